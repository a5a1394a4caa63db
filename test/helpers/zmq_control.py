"""A control-channel client written with Python's zmq binding (Debian's python3-zmq), to show
the protocol is plain ZeroMQ REQ/REP. Usage: zmq_control.py ENDPOINT COMMAND [COMMAND …];
prints one reply per line."""
import sys

import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.REQ)
sock.setsockopt(zmq.RCVTIMEO, 30000)
sock.setsockopt(zmq.LINGER, 0)
sock.connect(sys.argv[1])
for command in sys.argv[2:]:
    sock.send(command.encode())
    print(sock.recv().decode(), flush=True)
sock.close()
ctx.term()
