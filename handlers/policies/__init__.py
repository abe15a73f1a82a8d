"""政策匹配: enterprise profiles, the policy catalog, matching with reasons, the 明白卡, 免申即享 pushes."""
