"""Phone calls: the voice channel's record of each call, its IVR menus and its queue life."""
