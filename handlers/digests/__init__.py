"""Leaders' push summaries: one digest across orders, projects, inspections and policies, with charts."""
