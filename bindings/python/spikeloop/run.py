"""run.py -- run_train: a whole logged run, as `spikeloop train` does it.

The composition of sl_run_train (lib/train/session.c) from the wrapped
calls: a Session, a RunLog created before training (so that an unwritable
path fails at once), the epochs with the caller's callback (which may stop
the run early), the network staged into the log, /summary written last
(val_accuracy, and for a backend that counts programming pulses, e.g.
memristor, prog_pulses_per_epoch read from the backend after every epoch as
the session does).
"""
from . import _core


def run_train(config=None, log="spikeloop_run.h5", callback=None, epochs=None,
              command="python run_train", **keys):
    """Train as `config` says (a Config, dict, INI path or None; keyword keys use
    '__' for '.', e.g. train__epochs=5) and write the run log `log` (None: no log).

    callback(metrics) is called after every epoch with a dict (epoch, loss,
    train_accuracy, val_accuracy, test_accuracy, hidden_rate, seconds); a true
    return value stops training after that epoch, and the log is finished with
    the epochs done. Returns the result dict of Session.train (test_accuracy,
    val_accuracy, train_accuracy, seconds, epochs, stopped) plus 'log'.
    """
    cfg = _core.Config(config, **keys)
    with _core.Session(cfg) as s:
        runlog = _core.RunLog(log, cfg, command=command) if log is not None else None
        pulses = []

        def each_epoch(m):
            if s.backend is not None:
                try:
                    pulses.append(float(s.backend_config("pulses")))
                except _core.Error:  # the backend counts no pulses
                    pass
            return callback(m) if callback is not None else False

        try:
            res = s.train(epochs=epochs, callback=each_epoch, log=runlog)
            if runlog is not None:
                s.log_network(runlog)
                val = res["val_accuracy"]
                runlog.put_summary("val_accuracy", val if val == val else 0.0)
                if pulses:
                    runlog.put_summary("prog_pulses_per_epoch", pulses)
                runlog.finish(res["test_accuracy"], res["epochs"], res["seconds"])
        finally:
            if runlog is not None:
                runlog.close()
    res["log"] = None if log is None else str(log)
    return res
