"""企业诉求 work orders (双24小时)."""
