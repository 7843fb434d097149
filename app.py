"""Start the cityqa chat UI: `python app.py` (host/port from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)."""

from cityqa.ui import serve

if __name__ == "__main__":
    serve()
