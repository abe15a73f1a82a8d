"""企业宁静日: quiet-day rules, inspection registration, 综合查一次, 包容免罚清单."""
