"""Email in the core: raw mail kept before it is parsed, attachments, bounces and threads.

The email channel (``channels.email``) speaks SMTP and MIME; this package holds what the
core decides about mail whatever its wire format.
"""
