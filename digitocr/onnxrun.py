"""Networks on ONNX Runtime: how every shipped network is run when reading.

Keras trains the networks; ``save`` also writes ``model.onnx`` (see ``kerasio.export_onnx``),
and reading runs that file here, so ``read`` and ``evaluate`` never import TensorFlow. A
session is made lazily in the process that runs it: a session inherited through ``fork`` has
lost its thread pool, and destroying one in the child can crash it, so a child makes its own
and keeps the inherited one alive (a forked worker ends by ``os._exit``, never destroying it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError

#: the ONNX file beside a model's ``metadata.json``
ONNX_FILE = "model.onnx"

#: threads per session (0: ONNX Runtime's default, one per core); see ``set_threads``
_threads = 0
#: sessions inherited from a parent process, kept so that they are never destroyed here
_inherited: list[Any] = []


def set_threads(n: int) -> None:
    """Give sessions made from now on ``n`` intra-op threads (workers call it with their share)."""
    global _threads
    _threads = max(0, int(n))


class OnnxNetwork:
    """One ONNX model with one float32 input and one output, run on the CPU.

    Pickles as its file's bytes, so a worker process started by ``spawn`` gets it too.
    """

    def __init__(self, data: bytes, source: str, outputs: int) -> None:
        self.data = data
        self.source = source
        self.outputs = outputs
        self._session: Any = None
        self._pid = 0
        self._input = ""
        self._rank = 0

    @classmethod
    def load(cls, path: Path, outputs: int) -> OnnxNetwork:
        """Read ``path``; check now that it loads and ends in ``outputs`` scores per item."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        net = cls(data, str(path), outputs)
        net.session()
        return net

    def session(self) -> Any:
        """This process's session, made on first use (and again after a fork)."""
        if self._session is not None and self._pid == os.getpid():
            return self._session
        if self._session is not None:
            _inherited.append(self._session)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = _threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: its warnings are not the user's business
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(self.data, sess_options=options,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for every bad file
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelError(f"{self.source}: not a usable ONNX model ({first:.200})") from exc
        inputs, outs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or len(outs) != 1:
            raise ModelError(f"{self.source}: an ONNX model here takes one input and gives one "
                             f"output (it has {len(inputs)} and {len(outs)})")
        if inputs[0].type != "tensor(float)":
            raise ModelError(f"{self.source}: input must be float32, not {inputs[0].type}")
        last = outs[0].shape[-1] if outs[0].shape else None
        if isinstance(last, int) and last != self.outputs:
            raise ModelError(f"{self.source}: model outputs {last} scores per item, "
                             f"expected {self.outputs}")
        self._session, self._pid = session, os.getpid()
        self._input, self._rank = inputs[0].name, len(inputs[0].shape)
        return session

    @property
    def rank(self) -> int:
        """The number of input dimensions (3 for ``(N, 28, 28)``, 4 with a channel axis)."""
        self.session()
        return self._rank

    def run(self, x: np.ndarray) -> np.ndarray:
        """The output for one float32 batch, shaped for this model's input rank."""
        session = self.session()
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim == self._rank + 1 and x.shape[-1] == 1:
            x = x[..., 0]
        elif x.ndim == self._rank - 1:
            x = x[..., None]
        out = np.asarray(session.run(None, {self._input: x})[0], dtype=np.float32)
        if out.shape[-1] != self.outputs:
            raise ModelError(f"{self.source}: model gave {out.shape[-1]} scores per item, "
                             f"expected {self.outputs}")
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {"data": self.data, "source": self.source, "outputs": self.outputs}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["data"], state["source"], state["outputs"])  # type: ignore[misc]


def load_network(directory: Path, outputs: int) -> OnnxNetwork | None:
    """The directory's ``model.onnx`` as a network, or None when it has none."""
    path = directory / ONNX_FILE
    return OnnxNetwork.load(path, outputs) if path.is_file() else None


def runtime_version() -> str:
    """ONNX Runtime's version (for metadata and benchmarks)."""
    import onnxruntime as ort

    return str(ort.__version__)
