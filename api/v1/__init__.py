"""The REST API at /api/v1/ (django-ninja): offers, orders, rentals and the member's
allowance for pipelines, with the same personal keys as the SMS-Activate gateway
(`Authorization: Bearer <key>`), one error envelope, cursor pagination and an
OpenAPI 3 schema at /api/v1/openapi.json (interactive docs at /api/v1/docs).

Modules: `app` (the NinjaAPI, authentication, the error envelope), `routes` (the
endpoints), `schemas`, `pagination`, `urls`. Views parse (ninja), check the key's
scope and what it may see, call one orders/rentals service, answer.
"""
