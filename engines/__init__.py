"""The shipped models (``<stem>.onnx`` + ``<stem>.card.json`` + ``<stem>.pt``), installed as package data of
``partkd_stream.engines``; found by name with ``partkd_stream.models`` (``--model penn``)."""
