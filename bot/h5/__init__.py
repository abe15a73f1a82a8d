"""H5 pages for enterprise contacts, opened from links sent in chat: file a 诉求 with photos, sign an
order off (评价), read the full 明白卡. Server-rendered, no script; every post is CSRF-checked and
done once. A thin transport like bot/webhook.py: the work is the chat's own services.
"""

from bot.h5.views import bp

__all__ = ["bp"]
