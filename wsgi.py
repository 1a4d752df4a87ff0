"""For any WSGI server: `gunicorn wsgi:app`. Starts no scheduler (run `shopnudge worker`)."""

from plugin import create_app

app = create_app()
