"""The live view: a web page showing fan-out as it happens, fed over a WebSocket."""
