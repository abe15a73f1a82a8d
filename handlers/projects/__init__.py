"""重点项目: the register, weekly 绿白黄红 reports, 督办卡/批示卡, 月汇报 and the 台账."""
