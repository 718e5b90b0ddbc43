"""scimkit's reference app: a multi-tenant SCIM 2.0 service that Microsoft Entra ID can provision.

It serves Fortes Change Cloud-compatible Users (core + enterprise + the
``urn:ietf:params:scim:schemas:extension:fcc:2.0:User`` extension) and Groups, per tenant, at
``/scim/v2/{tenant}``. Run it with ``reference-app serve`` (see ``README.md``); build it in
code with :func:`reference_app.app.create_app`.
"""
