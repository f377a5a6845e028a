"""The HTTP adapters: the FastAPI app factory (`app`), its routes, HTTP-only schemas, the error envelope
(`handlers`), API keys (`auth`), limits, observability, server-sent events, the OpenAI-compatible
endpoint, the documents (write) API and the web page with its static files.

They import the answering core (`service.answering`: its pipeline and stages), `service.schemas` and
`service.errors`;
nothing in the core imports them. Nothing here but `app` imports the Slack mount (`service.slack.http`),
and that only lazily, when Slack is configured.
"""
