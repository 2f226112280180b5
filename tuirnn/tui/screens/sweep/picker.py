"""The modal that picks a saved sweep: those under models/sweeps, most recent first, or any sweep
directory typed in (Enter opens it, Escape cancels: the path prompt's own keys)."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer, Input, Label, OptionList
from textual.widgets.option_list import Option

from tuirnn.runs import SWEEP_FILE
from tuirnn.sweeps.listing import list_sweeps, sweep_counts
from tuirnn.sweeps.sweepdir import SweepDir
from tuirnn.tui.widgets.form_path_prompt import PathPrompt


class SweepPicker(PathPrompt):
    CSS_PATH = "picker.tcss"

    def __init__(self, sweeps_dir: Path) -> None:
        super().__init__(f"Open a sweep in {sweeps_dir}", "")
        self.sweeps_dir = sweeps_dir

    def compose(self) -> ComposeResult:
        sweeps = list_sweeps(self.sweeps_dir)
        with Vertical(id="picker"):
            yield Label(self.title_text if sweeps else f"No sweeps in {self.sweeps_dir} yet.",
                        markup=False)
            if sweeps:
                yield OptionList(*(Option(self._prompt(s), id=str(s.path)) for s in sweeps), id="picker-list")
            yield Input(placeholder="or a sweep directory, then Enter", id="picker-path")
            yield Label("Enter opens, Escape cancels", classes="picker-hint")
        yield Footer()

    @staticmethod
    def _prompt(sweep: SweepDir) -> Text:
        stamp = time.strftime("%m-%d %H:%M", time.localtime((sweep.path / SWEEP_FILE).stat().st_mtime))
        text = Text().append(sweep.path.name, style="bold")
        return text.append(f"  {sweep.definition.strategy}, {sweep_counts(sweep)}  {stamp}", style="dim")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Path(str(event.option.id)))
