#!/usr/bin/env python3
"""Builds http1-edge-cases.pcap (HTTP/1.x framing edge cases, one TCP stream per case) with
text2pcap, and its expected output http1-edge-cases.oracle.csv with shared/tools/tshark-oracle.sh.
Pipelining is not among the cases: tshark 4.0 pairs pipelined requests with the wrong responses
(the unit tests and http11-pipelined-keepalive.pcap cover it).

The expected values come from tshark, never from TrafficStore. Regenerate with:
    python3 make-captures.py /path/to/shared/tools/tshark-oracle.sh
Needs python3, text2pcap, mergecap and tshark (4.0).
"""
import gzip, os, subprocess, sys, tempfile, time, zlib

BODY = b"".join(b"line %d of a compressible body\n" % i for i in range(120))
GZ = gzip.compress(BODY, mtime=0)
ZL = zlib.compress(BODY)


def crlf(s):
    return s.replace("\n", "\r\n").encode()


def chunked(data, sizes):
    out, i = b"", 0
    for n in sizes:
        out += b"%x\r\n" % n + data[i:i + n] + b"\r\n"
        i += n
    return out + b"0\r\n\r\n"


# each case: a list of (direction, bytes); "I" = client to server, "O" = server to client
CASES = {
    "head-then-get": [
        ("I", crlf("HEAD /big HTTP/1.1\nHost: a.example\n\n")),
        ("O", crlf("HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 5000\n\n")),
        ("I", crlf("GET /small HTTP/1.1\nHost: a.example\n\n")),
        ("O", crlf("HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n\nok")),
    ],
    "no-body-statuses": [
        ("I", crlf("GET /a HTTP/1.1\nHost: b.example\n\n")),
        ("O", crlf("HTTP/1.1 204 No Content\nContent-Length: 10\n\n")),
        ("I", crlf("GET /b HTTP/1.1\nHost: b.example\n\n")),
        ("O", crlf("HTTP/1.1 304 Not Modified\nContent-Type: image/png\nContent-Length: 99\n\n")),
        ("I", crlf("GET /c HTTP/1.1\nHost: b.example\n\n")),
        ("O", crlf("HTTP/1.1 200 OK\nContent-Length: 1\n\n!")),
    ],
    "chunked-trailers": [
        ("I", crlf("POST /c HTTP/1.1\nHost: c.example\nTransfer-Encoding: chunked\nContent-Type: text/plain\n\n") + chunked(b"abcdefgh", [3, 5])),
        ("O", crlf("HTTP/1.1 200 OK\nContent-Type: text/html\nTransfer-Encoding: chunked\nTrailer: X-Sum\n\n") + b"5;name=v\r\nhello\r\n"),
        ("O", b"a\r\n0123456789\r\n"),
        ("O", b"0\r\nX-Sum: 42\r\n\r\n"),
    ],
    "gzip": [
        ("I", crlf("GET /gz HTTP/1.1\nHost: d.example\nAccept-Encoding: gzip\n\n")),
        ("O", crlf("HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Encoding: gzip\nContent-Length: %d\n\n" % len(GZ)) + GZ),
    ],
    "deflate-zlib": [
        ("I", crlf("GET /df HTTP/1.1\nHost: e.example\n\n")),
        ("O", crlf("HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Encoding: deflate\nTransfer-Encoding: chunked\n\n") + chunked(ZL, [100, len(ZL) - 100])),
    ],
    "expect-continue": [
        ("I", crlf("POST /up HTTP/1.1\nHost: f.example\nExpect: 100-continue\nContent-Type: application/x-www-form-urlencoded\nContent-Length: 11\n\n")),
        ("O", crlf("HTTP/1.1 100 Continue\n\n")),
        ("I", b"a=1&b=2&c=3"),
        ("O", crlf("HTTP/1.1 201 Created\nContent-Type: text/plain\nContent-Length: 4\n\ndone")),
    ],
    "body-over-segments": [
        ("I", crlf("POST /form HTTP/1.0\nHost: h.example\nContent-Length: 30\n\n") + b"0123456789"),
        ("I", b"0123456789"),
        ("I", b"0123456789"),
        ("O", crlf("HTTP/1.0 200 OK\nContent-Type: text/plain\nContent-Length: 3\n\nyes")),
    ],
    "h2c-upgrade": [
        ("I", crlf("GET /h2 HTTP/1.1\nHost: i.example\nConnection: Upgrade, HTTP2-Settings\nUpgrade: h2c\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\n\n")),
        ("O", crlf("HTTP/1.1 101 Switching Protocols\nConnection: Upgrade\nUpgrade: h2c\n\n") + bytes.fromhex("000000040000000000")),
        ("I", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")),
    ],
}


def hexdump(data):
    lines = []
    for off in range(0, len(data), 16):
        lines.append("%06x " % off + " ".join("%02x" % b for b in data[off:off + 16]))
    return "\n".join(lines) + "\n"


def main():
    oracle = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../../../../shared/tools/tshark-oracle.sh")
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        parts = []
        t = 1700000000.0
        for i, (name, segments) in enumerate(CASES.items()):
            text = ""
            for direction, data in segments:
                t += 0.001
                text += "%s %s\n" % (direction, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(t))) + (".%06d" % round((t % 1) * 1e6))) + hexdump(data)
            src = os.path.join(tmp, "%02d.txt" % i)
            out = os.path.join(tmp, "%02d.pcap" % i)
            with open(src, "w") as f:
                f.write(text)
            subprocess.run(["text2pcap", "-q", "-D", "-t", "%Y-%m-%d %H:%M:%S.%f", "-T", "%d,80" % (41000 + i), "-4", "10.0.0.1,10.0.0.2", src, out], check=True)
            parts.append(out)
        pcap = os.path.join(here, "http1-edge-cases.pcap")
        subprocess.run(["mergecap", "-F", "pcap", "-a", "-w", pcap] + parts, check=True)
    with open(os.path.join(here, "http1-edge-cases.oracle.csv"), "w") as f:
        subprocess.run([oracle, "--http", pcap], check=True, stdout=f)
    print("cases:", ", ".join("%d=%s" % (i, n) for i, n in enumerate(CASES)))


main()
