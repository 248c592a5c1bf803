# An SMTP sink for tests (RFC 5321 subset, Python's standard library only):
# EHLO/HELO, STARTTLS, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
# Every accepted mail is logged as a JSON line {"n", "from", "to", "data",
# "tls", "user"}; the first N mails are refused with 451 (to test retries).
#   smtp_sink.py <port-file> <log-file> <fail-first N> [--tls cert key] [--auth user:password]
# With --tls, AUTH and MAIL are refused before STARTTLS; with --auth, MAIL is
# refused before a successful AUTH.
import base64, json, socketserver, ssl, sys, threading

port_file, log_file, fail_first = sys.argv[1], sys.argv[2], int(sys.argv[3])
tls_ctx, credentials = None, None
rest = sys.argv[4:]
while rest:
    if rest[0] == "--tls":
        tls_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_ctx.load_cert_chain(rest[1], rest[2])
        rest = rest[3:]
    elif rest[0] == "--auth":
        credentials = rest[1]
        rest = rest[2:]
    else:
        sys.exit("unknown argument " + rest[0])
lock = threading.Lock()
count = 0


class Session(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def line(self):
        raw = self.rfile.readline(65536)
        if not raw:
            raise EOFError
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def check_auth(self, user, password):
        if credentials == user + ":" + password:
            self.user = user
            self.reply("235 2.7.0 Authentication successful")
        else:
            self.reply("535 5.7.8 Authentication credentials invalid")

    def handle(self):
        global count
        self.tls, self.user, sender, rcpts = False, None, None, []
        self.reply("220 smtp-sink ESMTP ready")
        try:
            while True:
                cmd = self.line()
                verb = cmd.split(" ", 1)[0].upper()
                arg = cmd[len(verb):].strip()
                if verb == "EHLO":
                    lines = ["smtp-sink", "8BITMIME", "SIZE 10485760"]
                    if tls_ctx and not self.tls:
                        lines.append("STARTTLS")
                    if credentials and (self.tls or not tls_ctx):
                        lines.append("AUTH PLAIN LOGIN")
                    for i, l in enumerate(lines):
                        self.reply(("250 " if i == len(lines) - 1 else "250-") + l)
                elif verb == "HELO":
                    self.reply("250 smtp-sink")
                elif verb == "STARTTLS" and tls_ctx and not self.tls:
                    self.reply("220 2.0.0 Ready to start TLS")
                    self.request = tls_ctx.wrap_socket(self.request, server_side=True)
                    self.rfile = self.request.makefile("rb")
                    self.wfile = self.request.makefile("wb")
                    self.tls, self.user, sender, rcpts = True, None, None, []
                elif verb == "AUTH":
                    if tls_ctx and not self.tls:
                        self.reply("538 5.7.11 Encryption required")
                        continue
                    parts = arg.split()
                    mech = parts[0].upper() if parts else ""
                    if mech == "PLAIN":
                        if len(parts) > 1:
                            blob = parts[1]
                        else:
                            self.reply("334 ")
                            blob = self.line()
                        _, user, password = base64.b64decode(blob).decode().split("\0")
                        self.check_auth(user, password)
                    elif mech == "LOGIN":
                        if len(parts) > 1:
                            user = base64.b64decode(parts[1]).decode()
                        else:
                            self.reply("334 VXNlcm5hbWU6")
                            user = base64.b64decode(self.line()).decode()
                        self.reply("334 UGFzc3dvcmQ6")
                        password = base64.b64decode(self.line()).decode()
                        self.check_auth(user, password)
                    else:
                        self.reply("504 5.5.4 Unrecognized authentication type")
                elif verb == "MAIL":
                    if tls_ctx and not self.tls:
                        self.reply("530 5.7.0 Must issue a STARTTLS command first")
                    elif credentials and not self.user:
                        self.reply("530 5.7.0 Authentication required")
                    else:
                        sender, rcpts = arg.split(":", 1)[1].strip().split()[0].strip("<>"), []
                        self.reply("250 2.1.0 Ok")
                elif verb == "RCPT":
                    rcpts.append(arg.split(":", 1)[1].strip().strip("<>"))
                    self.reply("250 2.1.5 Ok")
                elif verb == "DATA":
                    if sender is None or not rcpts:
                        self.reply("503 5.5.1 Bad sequence of commands")
                        continue
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                    data = []
                    while True:
                        l = self.line()
                        if l == ".":
                            break
                        data.append(l[1:] if l.startswith(".") else l)
                    with lock:
                        count += 1
                        n = count
                        if n > fail_first:
                            with open(log_file, "a") as f:
                                f.write(json.dumps({"n": n, "from": sender, "to": rcpts,
                                                    "data": "\n".join(data), "tls": self.tls,
                                                    "user": self.user}) + "\n")
                    self.reply("451 4.3.0 Try again later" if n <= fail_first else "250 2.0.0 Ok: queued")
                    sender, rcpts = None, []
                elif verb == "RSET":
                    sender, rcpts = None, []
                    self.reply("250 2.0.0 Ok")
                elif verb == "NOOP":
                    self.reply("250 2.0.0 Ok")
                elif verb == "QUIT":
                    self.reply("221 2.0.0 Bye")
                    return
                else:
                    self.reply("502 5.5.2 Command not recognized")
        except (EOFError, ConnectionError, ssl.SSLError, ValueError):
            return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


server = Server(("127.0.0.1", 0), Session)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
