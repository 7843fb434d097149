"""The Gradio app: an edge, beside `cli`.

`app` builds the tabs and launches the server (`serve`, `build_app`, `launch_options`), `handlers` answers their
events, `render` turns answers, sources and verdicts into escaped Markdown and HTML (no Gradio import), `reports`
shows the evaluation reports, `style` holds the CSS and the browser-side scripts.
"""
