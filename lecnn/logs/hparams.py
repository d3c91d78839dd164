"""The HParams plugin's summaries, built from TensorBoard's own protos.

``torch.utils.tensorboard``'s ``add_hparams`` types booleans as numbers (``bool`` is an ``int``),
writes each metric again as a one-point ``hparam/*`` chart, and leaves the visible columns to
TensorBoard's sort by name. Here booleans stay booleans, the metrics point at the curves the run
already logs, and the hparams that matter are marked ``differs`` — TensorBoard lists those first
and its HParams table shows the first five of them.
"""

from __future__ import annotations

import time
from typing import Any

from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

_TYPES = {
    bool: api_pb2.DATA_TYPE_BOOL,
    int: api_pb2.DATA_TYPE_FLOAT64,
    float: api_pb2.DATA_TYPE_FLOAT64,
    str: api_pb2.DATA_TYPE_STRING,
}


def _summary(tag: str, data: plugin_data_pb2.HParamsPluginData) -> Summary:
    return Summary(value=[Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(data))])


def hparams_summaries(
    hparams: dict[str, Any], shown: tuple[str, ...], metrics: dict[str, tuple[str, str]]
) -> list[Summary]:
    """The experiment and session-start summaries of one run.

    ``hparams``: name → bool, int, float or str (None values are left out); ``shown``: the names to
    display by default; ``metrics``: display name → (sub-run, scalar tag) of an existing curve."""
    values = {k: v for k, v in hparams.items() if v is not None}
    infos = []
    start = plugin_data_pb2.SessionStartInfo(start_time_secs=time.time())
    for name, v in values.items():
        kind = type(v)
        if kind not in _TYPES:
            v, kind = str(v), str
        infos.append(api_pb2.HParamInfo(name=name, type=_TYPES[kind], differs=name in shown))
        if kind is bool:
            start.hparams[name].bool_value = v
        elif kind is str:
            start.hparams[name].string_value = v
        else:
            start.hparams[name].number_value = float(v)
    experiment = api_pb2.Experiment(
        hparam_infos=infos,
        metric_infos=[
            api_pb2.MetricInfo(name=api_pb2.MetricName(group=group, tag=tag), display_name=display)
            for display, (group, tag) in metrics.items()
        ],
    )
    return [
        _summary(metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment)),
        _summary(
            metadata.SESSION_START_INFO_TAG,
            plugin_data_pb2.HParamsPluginData(session_start_info=start),
        ),
    ]


def session_end_summary(status: str) -> Summary:
    """``finished`` → STATUS_SUCCESS, ``interrupted`` → STATUS_RUNNING (it can be resumed),
    else STATUS_FAILURE."""
    code = {"finished": api_pb2.STATUS_SUCCESS, "interrupted": api_pb2.STATUS_RUNNING}.get(
        status, api_pb2.STATUS_FAILURE
    )
    end = plugin_data_pb2.SessionEndInfo(status=code, end_time_secs=time.time())
    return _summary(
        metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end)
    )
