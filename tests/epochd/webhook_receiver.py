# A webhook receiver for tests: logs every POST (headers, body, count, path —
# an absolute URL when it is used as a proxy) as a JSON line, answers 500 to
# the first N, or hangs on every request; "keepalive" answers HTTP/1.1 and
# keeps connections open.
#   webhook_receiver.py <port-file> <log-file> <fail-first N> [hang] [keepalive]
import http.server, json, sys, threading, time

port_file, log_file, fail_first = sys.argv[1], sys.argv[2], int(sys.argv[3])
hang = "hang" in sys.argv[4:]
keepalive = "keepalive" in sys.argv[4:]
lock = threading.Lock()
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1" if keepalive else "HTTP/1.0"

    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with lock:
            count += 1
            n = count
            with open(log_file, "a") as f:
                f.write(json.dumps({"n": n, "path": self.path,
                                    "headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": body}) + "\n")
        if hang:
            time.sleep(120)
        self.send_response(500 if n <= fail_first else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
