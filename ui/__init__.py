"""The web chat: a Gradio app over the public `assistant` API (see ui/README.md)."""
