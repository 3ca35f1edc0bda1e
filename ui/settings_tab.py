"""The Settings tab: the backend this browser session answers with (offline or an
OpenAI-compatible endpoint), top-k, and the feedback export.

`build_settings_tab(...)` lays the tab out inside the current gr.Blocks; `SettingsHandlers`
holds what its events do, callable without a browser; `wire_settings(...)` connects the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import gradio as gr
from pydantic import SecretStr

from assistant import AssistantError
from ui import render
from ui.common import Assistants, SessionSettings, SessionState

# --- layout ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsTab:
    """The Settings tab's components that events read or write."""

    backend: gr.Radio
    endpoint_group: gr.Group
    base_url: gr.Textbox
    model: gr.Textbox
    api_key: gr.Textbox
    top_k: gr.Slider
    feedback_summary: gr.HTML
    feedback_export: gr.DownloadButton
    apply: gr.Button
    test_connection: gr.Button
    settings_status: gr.HTML


def build_settings_tab(assistants: Assistants) -> SettingsTab:
    """The Settings tab, inside the current gr.Tabs, showing the server's defaults."""
    with gr.Tab("Settings", id="settings", elem_id="tab-settings"):
        defaults = assistants.defaults()
        with gr.Column(elem_id="aa-settings"):
            gr.HTML('<p class="aa-muted aa-help">These settings apply to this browser '
                    "session only. An API key stays on the server and is never shown "
                    "again.</p>")
            backend = gr.Radio(
                label="Answer with",
                choices=[("Offline: quote the articles (no network, no key)", "extractive"),
                         ("An OpenAI-compatible endpoint", "openai")],
                value=defaults.llm, elem_id="backend")
            with gr.Group(visible=defaults.llm == "openai") as endpoint_group:
                base_url = gr.Textbox(label="Base URL", value=defaults.base_url,
                                      placeholder="https://api.openai.com/v1 or http://127.0.0.1:8080/v1",
                                      elem_id="base-url")
                model = gr.Textbox(label="Model", value=defaults.model, elem_id="model")
                api_key = gr.Textbox(
                    label="API key", type="password", value="", elem_id="api-key",
                    placeholder=("leave empty to use the server's key"
                                 if assistants.base.settings.openai_api_key else "sk-…"))
            top_k = gr.Slider(label="Passages to read", minimum=1, maximum=20,
                              step=1, value=min(defaults.top_k, 20), elem_id="top-k",
                              info="how many of the best-matching passages an answer is "
                                   "chosen from")
            with gr.Group(elem_id="aa-feedback-export"):
                feedback_summary = gr.HTML("", elem_id="feedback-summary")
                feedback_export = gr.DownloadButton(
                    "Export feedback as questions.jsonl", size="sm", value=None,
                    elem_id="feedback-export")
            with gr.Row(equal_height=False, elem_id="aa-apply-row"):
                apply = gr.Button("Apply", variant="primary", elem_id="apply-settings",
                                  scale=0, min_width=140)
                test_connection = gr.Button("Test connection", elem_id="test-connection",
                                            scale=0, min_width=160)
                settings_status = gr.HTML(render.status_html("info", [defaults.describe()]),
                                          elem_id="settings-status")
    return SettingsTab(
        backend=backend, endpoint_group=endpoint_group, base_url=base_url, model=model,
        api_key=api_key, top_k=top_k, feedback_summary=feedback_summary,
        feedback_export=feedback_export, apply=apply, test_connection=test_connection,
        settings_status=settings_status)


# --- what the events do ------------------------------------------------------------------------------


class SettingsHandlers:
    """The Settings tab's event handlers over the app's Assistants (one per chosen settings)."""

    def __init__(self, assistants: Assistants) -> None:
        self.assistants = assistants
        # The server's own settings: what an empty model field or saved top-k falls back to.
        self.defaults = assistants.defaults()

    def chosen_settings(self, choice: str, url: str, name: str, key: str, k: float,
                        current: SessionSettings | None) -> SessionSettings | str:
        """The settings the form describes, or the one-line reason they are refused."""
        url, name, key = (url or "").strip(), (name or "").strip(), (key or "").strip()
        if choice == "openai":
            if url and not re.match(r"https?://[^\s/]+", url):
                return "The base URL must start with http:// or https://."
            if not name:
                return "Name the model to use."
        # An empty key field keeps the key this session already gave; the field itself is
        # always cleared, so the key is never shown again.
        secret = SecretStr(key) if key else (current.api_key if current else None)
        return SessionSettings(llm=choice if choice in ("extractive", "openai") else "extractive",
                               base_url=url, model=name or self.defaults.model,
                               api_key=secret if choice == "openai" else None, top_k=int(k))

    def connection_report(self, chosen: SessionSettings) -> tuple[str, list[str]]:
        """Ask the endpoint for its models: ("ok", [...]) or ("error", [reason])."""
        try:
            models = self.assistants.get(chosen).llm_models()
        except AssistantError as exc:
            return "error", [str(exc)]
        where = chosen.base_url or "the default endpoint"
        listed = ", ".join(models[:8]) + (f" and {len(models) - 8} more" if len(models) > 8
                                         else "")
        line = f"Connected to {where}: {len(models)} model{'s' if len(models) != 1 else ''}" \
               f"{': ' + listed if models else ''}."
        if models and chosen.model not in models:
            return "warn", [line, f"The model {chosen.model!r} is not among them."]
        return "ok", [line]

    def apply_settings(self, choice: str, url: str, name: str, key: str, k: float,
                       current: SessionSettings | None) -> tuple[Any, ...]:
        """Outputs: status, the session's settings, the (cleared) key field, what the browser
        keeps."""
        chosen = self.chosen_settings(choice, url, name, key, k, current)
        if isinstance(chosen, str):
            return render.status_html("error", [chosen]), current, "", gr.skip()
        try:
            self.assistants.get(chosen)  # the core validates the settings here
        except AssistantError as exc:
            return render.status_html("error", [str(exc)]), current, "", gr.skip()
        cleared = gr.Textbox(value="", placeholder=(
            "set for this session; type a new key to replace it" if chosen.api_key else "sk-…"))
        saved = {"llm": chosen.llm, "base_url": chosen.base_url, "model": chosen.model,
                 "top_k": chosen.top_k}
        if chosen.llm == "openai":
            kind, lines = self.connection_report(chosen)
            if kind != "ok":
                return (render.status_html("warn", [
                    "Applied. " + chosen.describe(),
                    "But the endpoint does not work yet: " + " ".join(lines),
                    "Until it does, answers quote the articles, with a note."]),
                    chosen, cleared, saved)
            return (render.status_html("ok", ["Applied. " + chosen.describe(), *lines]),
                    chosen, cleared, saved)
        return render.status_html("ok", ["Applied. " + chosen.describe()]), chosen, cleared, saved

    def test_settings(self, choice: str, url: str, name: str, key: str, k: float,
                      current: SessionSettings | None) -> str:
        if choice != "openai":
            return render.status_html("info", ["Offline answers need no connection."])
        chosen = self.chosen_settings(choice, url, name, key, k, current)
        if isinstance(chosen, str):
            return render.status_html("error", [chosen])
        kind, lines = self.connection_report(chosen)
        return render.status_html(kind, lines)

    def restore_settings(self, saved: dict[str, Any] | None) -> tuple[Any, ...]:
        """The choices this browser applied before (the key is never kept: a session that
        needs one asks for it again). Outputs: the session's settings, the form's backend,
        base URL, model, top-k, the endpoint group, the status."""
        if not saved or saved.get("llm") not in ("extractive", "openai"):
            return (gr.skip(),) * 7
        chosen = self.chosen_settings(str(saved["llm"]), str(saved.get("base_url") or ""),
                                      str(saved.get("model") or ""), "",
                                      float(saved.get("top_k") or self.defaults.top_k), None)
        if isinstance(chosen, str):
            return (gr.skip(),) * 7
        try:
            self.assistants.get(chosen)
        except AssistantError:
            return (gr.skip(),) * 7
        return (chosen, chosen.llm, chosen.base_url, chosen.model, chosen.top_k,
                gr.Group(visible=chosen.llm == "openai"),
                render.status_html("info", ["Restored from this browser: "
                                            + chosen.describe()]))


# --- events ----------------------------------------------------------------------------------------


def wire_settings(demo: gr.Blocks, settings_tab: SettingsTab, state: SessionState,
                  handlers: SettingsHandlers) -> None:
    """Connect the Settings tab's events (and, on page load, restore what this browser chose
    before), inside the current gr.Blocks."""
    t, s, h = settings_tab, state, handlers
    form = [t.backend, t.base_url, t.model, t.api_key, t.top_k, s.session]

    t.backend.change(lambda choice: gr.Group(visible=choice == "openai"), inputs=[t.backend],
                     outputs=[t.endpoint_group], api_visibility="private", show_progress="hidden")

    def apply_settings(choice: str, url: str, name: str, key: str, k: float,
                       current: SessionSettings | None) -> tuple[Any, ...]:
        return h.apply_settings(choice, url, name, key, k, current)

    t.apply.click(apply_settings, inputs=form,
                  outputs=[t.settings_status, s.session, t.api_key, s.saved_settings],
                  api_visibility="private", show_progress="hidden")

    def test_settings(choice: str, url: str, name: str, key: str, k: float,
                      current: SessionSettings | None) -> str:
        return h.test_settings(choice, url, name, key, k, current)

    t.test_connection.click(test_settings, inputs=form, outputs=[t.settings_status],
                            api_visibility="private", show_progress="hidden")

    def restore_settings(saved: dict[str, Any] | None) -> tuple[Any, ...]:
        return h.restore_settings(saved)

    demo.load(restore_settings, inputs=[s.saved_settings],
              outputs=[s.session, t.backend, t.base_url, t.model, t.top_k, t.endpoint_group,
                       t.settings_status], api_visibility="private", show_progress="hidden")
