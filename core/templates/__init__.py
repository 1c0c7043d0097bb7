"""WhatsApp message templates: as Meta lists them, a campaign's components in Meta's shape,
whether those fit the template, and one recipient's components for the send API.

- ``definition``: templates as Meta lists them, and what a campaign derives from them.
- ``components``: a campaign's components, checked before anything is stored.
- ``fit``: do a campaign's components fit its template?
- ``render``: one recipient's ``template.components`` for the send API.
"""

__all__ = ["components", "definition", "fit", "render"]
