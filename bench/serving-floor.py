"""The floor of the `serving` benchmark: the model guide's prediction behind a plain threading HTTP server.

Usage: python serving-floor.py <model.joblib>     prints "listening on <port>", then serves 127.0.0.1:<port>

POST {"images": [[64 pixels], ...]} answers {"result": [labels]}. The model is loaded once; each call does what
the algorithm's apply() does for that input (src/DigitClassifier.py), nothing more.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import joblib
import numpy as np

MODEL = joblib.load(sys.argv[1])
PIXELS = 64


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the clients reuse their connections
    disable_nagle_algorithm = True  # headers and body are two writes; Nagle would hold the body back

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        images = np.array(body["images"], dtype=float)
        if images.ndim != 2 or images.shape[1] != PIXELS or len(images) == 0:
            return self.reply(400, {"error": "each image needs %d pixel values; got shape %s" % (PIXELS, images.shape)})
        self.reply(200, {"result": [int(label) for label in MODEL.predict(images)]})

    def reply(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # a line per call is not part of a prediction


class Server(ThreadingHTTPServer):
    request_queue_size = 64  # 16 clients connect at once; the default backlog of 5 would delay some by a SYN retry


server = Server(("127.0.0.1", 0), Handler)
print("listening on %d" % server.server_address[1], flush=True)
server.serve_forever()
