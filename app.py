"""Start the cityqa chat UI: `python app.py`.

Listens on 127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise; CITYQA_AUTH turns on
login. See README, "Chat UI".
"""

import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from cityqa.errors import CityqaError
from cityqa.ui.app import serve

if __name__ == "__main__":
    try:
        serve()
    except CityqaError as exc:
        print(f"cityqa: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
