"""Reply by voice (issue 19): under each spoken answer in a page, a recorder whose recording is
the next turn of the conversation, asked with the model, voice and options of the cell it
belongs to, its answer streamed under it with the live view; that answer gets its own.

The recorder's stop arrives as a comm message while the kernel is idle, so the turn runs in
that message's handler. Its outputs belong to no cell: they go into an ``ipywidgets.Output``
shown with the recorder, which the page fills with what the handler displays. The page ignores
display updates there (an Output widget keeps display_data, stream, error and clear_output, and
drops update_display_data), so the live answer sits in an Output of its own, cleared and given
the static answer when the stream ends, instead of being replaced through its display handle.

Only where speech plays live in a page (``WidgetView`` with speech): someone is listening there
and can answer. A terminal, and a headless run (``python -m omni_magic.demo`` turns live speech
off), get no recorder. A reply continues the conversation where it is now (all its turns),
whichever answer's recorder was used.

The recorder is a widget, which a saved notebook cannot show without its kernel, and the replies
live in its Output, which a saved notebook does not keep. So when the next cell starts, each
recorder shown so far gives its place to static outputs: the replies it took, each with its
answer and its speech, which the notebook keeps like any cell's output (``retire_all``). Only the
recorder under the latest spoken answer is a widget in a notebook saved before another cell runs.
"""

from __future__ import annotations

import html
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from ..attachments import Attachment
from ..errors import Interrupted, OmniError
from ..response import OmniResponse, collect
from . import targets, view
from .status import status_line
from .widgets import close_widgets, display_widget

TITLE = "Reply by voice: press record, speak, press stop; the answer comes below."
PLACEHOLDER = "Reply by voice: a recorder, in JupyterLab or Jupyter Notebook while the kernel runs."


def offer(magics: Any, args: Any, options: Any, stream_view: Any, *, nested: bool = False) -> Reply | None:
    """Show the recorder that replies to the answer ``stream_view`` just showed, if it spoke in a
    page. ``args`` (the cell's parsed line) picks the client again at reply time, as a cell
    would; ``options`` (its ``CellOptions``) are the model, voice and options of the reply.
    ``nested``: under a reply's answer, inside its recorder's Output (retired with it)."""
    widget = getattr(stream_view, "widget", None)
    if widget is None or not widget.speech:
        return None
    reply = Reply(magics, args, options)
    reply.show()
    if not nested:
        magics._replies.append(reply)  # shown under a cell's answer, until the next cell
    return reply


def retire_all(magics: Any) -> None:
    """A new cell starts: every recorder shown so far gives its place to its replies as static
    outputs (see the module's docstring)."""
    replies = magics._replies
    while replies:
        replies.pop().retire()


class Reply:
    """The recorder, and the Output under it where the reply's turn is shown."""

    def __init__(self, magics: Any, args: Any, options: Any) -> None:
        import ipywidgets

        from .recorder import Recorder, limit_for

        self.magics, self.args, self.options = magics, args, options
        seconds, why = limit_for(options.model, magics._catalog())
        self.recorder = Recorder(limit_seconds=seconds, limit_note=why, on_clip=self.send)
        self.out = ipywidgets.Output()
        title = ipywidgets.HTML(f"<b>{TITLE}</b>")
        self.box = ipywidgets.VBox([title, self.recorder, self.out])
        self.box.add_class("omni-reply")  # the browser test finds a reply's recorder by it
        self.response: OmniResponse | None = None  # the reply's answer, once sent
        self.heard: float | None = None  # seconds of the recording sent
        self.next: Reply | None = None  # the recorder under this reply's answer
        self._handle: Any = None

    def show(self) -> Any:
        self._handle = display_widget(self.box, PLACEHOLDER)
        return self._handle

    def retire(self) -> None:
        """Give the recorder's place to the replies it took (nothing, if none), static; close it
        and the recorders nested under its replies."""
        if self._handle is not None:
            self._handle.update(Replies(self.chain()))
        for reply in self.chain(everyone=True):
            close_widgets(reply.recorder, reply.out, reply.box, *reply.box.children)

    def chain(self, everyone: bool = False) -> list[Reply]:
        """This recorder and those under its replies' answers: those that took a reply (all)."""
        out, reply = [], self
        while reply is not None:
            if everyone or reply.response is not None:
                out.append(reply)
            reply = reply.next
        return out

    def send(self, clip: Any) -> None:
        """The recorder's stop: ask the next turn with ``clip`` as its audio, shown in ``out``.
        An error a user can act on is shown there as one paragraph (a comm handler's error would
        reach no cell); any other is shown there with its traceback by the Output widget."""
        with self.out:
            try:
                self._turn(clip)
            except (OmniError, UsageError) as exc:
                display(view.Notice(str(exc), "error"))

    def _turn(self, clip: Any) -> None:
        import ipywidgets

        magics = self.magics
        client = magics._client_for(self.args)  # a later cell may have changed the settings
        audio = Attachment("audio", clip, name="your reply")
        # The cell's own media were its turn's: the conversation carries them as earlier media.
        keywords = {**self.options.request(), "attachments": [audio],
                    **magics.conversation.carried(None, magics.system)}
        request = client.prepare("", **keywords)
        self.heard = clip.seconds
        view.show_previews(request.attachments)
        for warning in request.warnings:
            display(view.Notice(warning, "warn"))
        events = client.send(request, record=targets.record_folder(magics.record_to))
        magics._tell_emulated(client)
        response = self.response = client.new_response(request)
        label = client.backend.label
        stream_view = magics._view(label, request.thinking, speech=request.audio)
        for note in request.notes:
            display(view.Notice(note))
        slot = ipywidgets.Output()  # the live answer's place, then the static answer's
        display(slot)
        with slot:
            stream_view.start(response)
        try:
            collect(events, response, on_event=stream_view.update)
        except KeyboardInterrupt:
            stream_view.stop()
            response.close(Interrupted("The stream was stopped; the partial answer is kept."))
        except OmniError as exc:
            stream_view.abort()
            _place(slot, view.Notice("No answer: see the error below.", "error"))
            response.close(exc)
            raise
        except Exception:
            stream_view.abort()
            raise
        # Its place first, then its end, as WidgetView.finish does for a cell's answer.
        _place(slot, view.Answer(response, status_line(response, label)))
        stream_view.finish(response, show_usage=magics.show_usage, autoplay=magics.autoplay,
                           notes=[view.Notice(note, "warn") for note in response.notes])
        if response.error is None and response.text:
            magics.conversation.record(request.user_message, response.text, request.model,
                                       attachments=request.attachments)
            self.next = offer(magics, self.args, self.options, stream_view, nested=True)  # a reply to it


class Replies:
    """The replies a recorder took, static: for each, what was sent, the answer as text and its
    speech as an audio element (what a saved notebook keeps of them)."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies

    def _repr_html_(self) -> str:
        parts = []
        for reply in self.replies:
            response = reply.response
            parts.append(f"<p><b>You replied by voice</b> ({reply.heard or 0:.1f} s)</p>")
            text = "<br>".join(html.escape(line) for line in response.text.splitlines())
            parts.append(f"<div style='margin:0 0 4px 0'>{text}</div>")
            if response.audio_chunks:
                parts.append(view.Speech(data=response.wav_bytes(), autoplay=False)._repr_html_())
        return "".join(parts)

    def __repr__(self) -> str:
        return "\n".join(f"You replied by voice ({r.heard or 0:.1f} s).\n{r.response.text}"
                         for r in self.replies)


def _place(slot: Any, output: Any) -> None:
    """Put ``output`` alone in ``slot``: the live widget's view goes, the widget lives on while
    its speech plays (the page hands it over to the audio element shown after)."""
    slot.clear_output()
    with slot:
        display(output)
