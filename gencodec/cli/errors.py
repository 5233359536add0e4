"""Turn every failure into a one-line message and an exit status."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import click

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return text


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command; expected errors become 'error: ...' on stderr and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from gencodec.container.errors import BitstreamError
        from gencodec.image_io import ImageInputError
        from gencodec.models.weights import WeightsError
        from gencodec.nn.text_encoder import TextEncoderUnavailable
        from gencodec.rate_control import RateUnreachable

        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted (no output written)", err=True)
            raise SystemExit(EXIT_INTERRUPTED) from None
        except (BitstreamError, ImageInputError, WeightsError, RateUnreachable, TextEncoderUnavailable, OSError,
                ValueError) as exc:
            click.echo(f"error: {_message(exc)}", err=True)
            raise SystemExit(EXIT_ERROR) from None
        except Exception as exc:  # noqa: BLE001 - the CLI must never show a traceback
            if os.environ.get("GIC_DEBUG"):
                raise
            click.echo(
                f"error: internal error: {exc.__class__.__name__}: {_message(exc)} (set GIC_DEBUG=1 for a traceback)",
                err=True,
            )
            raise SystemExit(EXIT_ERROR) from None

    return wrapper
