"""A local OpenID Connect issuer for the web-identity tests: an HTTP server on 127.0.0.1 with
the discovery document and a JSON Web Key Set, and a token mint driven over stdin/stdout.

Keys are drawn fresh at start with the `cryptography` package (RSA-2048 `rsa-1`, P-256 `ec-1`,
and an unpublished RSA key `rsa-other`, standing for another provider's). The first line
printed is `{"issuer", "jwks"}`; then each stdin line `{"claims", "alg", "kid", "key"}` is
answered by one line holding the token. `alg` `none` leaves the signature empty; `HS256` signs
with the published RSA key's PEM as the HMAC secret (the key-confusion attack).
"""

import base64
import hashlib
import hmac
import http.server
import json
import sys
import threading

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_bytes(value: int, length: int = 0) -> bytes:
    length = length or (value.bit_length() + 7) // 8
    return value.to_bytes(length, "big")


keys = {
    "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "other": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ec": ec.generate_private_key(ec.SECP256R1()),
}

rsa_public = keys["rsa"].public_key().public_numbers()
ec_public = keys["ec"].public_key().public_numbers()
jwks = {
    "keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
         "n": b64url(int_bytes(rsa_public.n)), "e": b64url(int_bytes(rsa_public.e))},
        {"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256",
         "x": b64url(int_bytes(ec_public.x, 32)), "y": b64url(int_bytes(ec_public.y, 32))},
    ]
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/.well-known/openid-configuration":
            body = {"issuer": issuer, "jwks_uri": issuer + "/jwks",
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"]}
        elif self.path == "/jwks":
            body = jwks
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
issuer = "http://127.0.0.1:%d" % server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()
print(json.dumps({"issuer": issuer, "jwks": jwks}), flush=True)


def mint(request):
    alg = request.get("alg", "RS256")
    header = {"alg": alg, "typ": "JWT"}
    if request.get("kid") is not None:
        header["kid"] = request["kid"]
    signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(request["claims"]).encode())).encode()
    key = keys[request.get("key", "ec" if alg == "ES256" else "rsa")]
    if alg == "none":
        signature = b""
    elif alg == "HS256":
        secret = keys["rsa"].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    elif alg == "ES256":
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = int_bytes(r, 32) + int_bytes(s, 32)
    else:
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input.decode() + "." + b64url(signature)


for line in sys.stdin:
    print(mint(json.loads(line)), flush=True)
