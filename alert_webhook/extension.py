"""The tracker of the Flask application at hand: how the views (and only they) reach it."""

from __future__ import annotations

from flask import Flask, current_app

from .services.tracker import Tracker

EXTENSION = "batiknet"


def install(app: Flask, tracker: Tracker) -> None:
    app.extensions[EXTENSION] = tracker


def tracker_of(app: Flask) -> Tracker:
    return app.extensions[EXTENSION]


def current_tracker() -> Tracker:
    """The tracker of the application handling the current request."""
    return current_app.extensions[EXTENSION]
