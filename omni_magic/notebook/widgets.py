"""Showing and closing widgets the way every live part of the product does: under a display id
(so a static output can take the widget's place), with a plain-text twin for frontends without
a widget manager, and closed with their layout and style (which closing a box leaves open)."""

from __future__ import annotations

from typing import Any

from IPython.display import display


def display_widget(widget: Any, placeholder: str) -> Any:
    """Show ``widget`` under a display id and return the handle. A frontend with no widget
    manager shows ``placeholder`` (the text/plain twin) instead of the widget's repr."""
    bundle = widget._repr_mimebundle_()
    data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)  # anywidget: (data, metadata)
    data["text/plain"] = placeholder
    return display(data, raw=True, display_id=True)


def close_widgets(*widgets: Any) -> None:
    """Close each widget (None is skipped) with its layout and style: closing a box leaves its
    children, and every widget's layout, open in the kernel and in the page."""
    for widget in widgets:
        if widget is not None:
            for part in (getattr(widget, "style", None), widget.layout, widget):
                if part is not None:
                    part.close()
