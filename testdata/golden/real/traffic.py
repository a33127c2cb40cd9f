#!/usr/bin/env python3
"""Traffic for the real captures in this directory (see README.md).

server ADDR PORT  serves every scenario on ADDR:PORT until killed; prints
                  "ready" once listening.
client ADDR PORT SCENARIO  runs one scenario against the server.

The first line a client sends names the scenario, so one server handles all.
"""
import socket, struct, sys, threading, time

def recv_line(s):
    b = b""
    while not b.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            break
        b += c
    return b

def pattern(n, seed):
    return bytes((i * 7 + seed) % 251 for i in range(n))

def serve_conn(c):
    try:
        cmd = recv_line(c).split()
        if not cmd:
            return
        name = cmd[0]
        if name == b"http":
            # HTTP/1.1 keep-alive: answer each request until the client closes.
            buf = b""
            while True:
                d = c.recv(4096)
                if not d:
                    break
                buf += d
                while b"\r\n\r\n" in buf:
                    req, buf = buf.split(b"\r\n\r\n", 1)
                    path = req.split(b" ")[1]
                    body = b"<html>" + path * 20 + b"</html>\n"
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/html\r\n\r\n" % len(body) + body)
        elif name == b"bulk":
            n = int(cmd[1])
            c.sendall(pattern(n, 3))
            c.shutdown(socket.SHUT_WR)
            while c.recv(4096):
                pass
        elif name == b"upload":
            total = 0
            while True:
                d = c.recv(65536)
                if not d:
                    break
                total += len(d)
            c.sendall(b"got %d\n" % total)
        elif name == b"echo":
            c.sendall(b"hello " + cmd[1] + b"\n")
        elif name == b"half":
            # client has shut down its side; keep talking afterwards
            while c.recv(4096):
                pass
            for i in range(5):
                c.sendall(b"after half-close %d\n" % i)
        elif name == b"rst":
            c.sendall(b"partial answer before reset\n")
            time.sleep(0.05)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif name == b"binary":
            c.sendall(bytes(range(256)) * 4)
        elif name == b"simclose":
            c.sendall(b"bye\n")
            recv_line(c)  # both sides close right after this line
    except ConnectionError:
        pass  # the rst scenario resets on purpose
    finally:
        c.close()

def server(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
    s.listen(64)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve_conn, args=(c,), daemon=True).start()

def connect(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.connect((addr, port))
    return s

def drain(s):
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            return out
        out += d

def talk(addr, port, data, shut):
    """One connection: send data, half-close first if shut, read to EOF."""
    s = connect(addr, port)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    drain(s)
    s.close()

def keepalive(addr, port, paths, pause):
    """HTTP/1.1 requests on one connection, pause seconds apart."""
    s = connect(addr, port)
    s.sendall(b"http\n")
    for p in paths:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n" % p.encode())
        time.sleep(pause)
    s.shutdown(socket.SHUT_WR)
    drain(s)
    s.close()

def client(addr, port, scen):
    if scen == "http":
        keepalive(addr, port, ["/", "/index.html", "/a/b?c=d", "/favicon.ico"], 0.01)
    elif scen.startswith("bulk"):
        talk(addr, port, b"bulk %d\n" % int(scen[4:] or 100000), False)
    elif scen.startswith("upload"):
        talk(addr, port, b"upload\n" + pattern(int(scen[6:] or 100000), 11), True)
    elif scen.startswith("many"):
        for i in range(int(scen[4:] or 20)):
            talk(addr, port, b"echo %d\n" % i, False)
    elif scen == "half":
        talk(addr, port, b"half\nclient data then half-close\n", True)
    elif scen == "rst":
        s = connect(addr, port)
        s.sendall(b"rst\nplease reset me\n")
        try:
            drain(s)
        except ConnectionResetError:
            pass
        s.close()
        # and a client-side abort
        s = connect(addr, port)
        s.sendall(b"http\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.05)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    elif scen == "binary":
        talk(addr, port, b"binary\n", False)
    elif scen == "reuse":
        # the same client port three times: the server closes first, so its
        # side holds TIME_WAIT and accepts the next SYN on the 4-tuple
        for i in range(3):
            fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", 40000))
            s.connect((addr, port))
            s.sendall(b"echo reuse%d\n" % i)
            drain(s)
            s.close()
    elif scen == "tfo":
        # TCP Fast Open: the first connection fetches a cookie, the next
        # ones carry their request in the SYN
        for i in range(3):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.sendto(b"echo tfo%d\n" % i, socket.MSG_FASTOPEN, (addr, port))
            drain(s)
            s.close()
    elif scen == "idle":
        # keep-alive with pauses longer than a one-second tcp_timeout
        keepalive(addr, port, ["/first", "/after-idle"], 1.5)
    elif scen == "oob":
        s = connect(addr, port)
        s.sendall(b"upload\nbefore urgent ")
        s.send(b"!", socket.MSG_OOB)
        s.sendall(b" after urgent\n")
        s.shutdown(socket.SHUT_WR)
        drain(s)
        s.close()
    elif scen == "simclose":
        s = connect(addr, port)
        s.sendall(b"simclose\n")
        recv_line(s)
        s.sendall(b"x\n")
        s.close()
    else:
        sys.exit("unknown scenario " + scen)

if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    else:
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
