"""Test certificates made at run time with the openssl command: a CA, leaf certificates
signed by it (serverAuth + clientAuth, with a DNS subjectAltName), and an unrelated second
CA for the refusal cases. Keys are P-256, valid for two days, written under `dir`."""

import os
import subprocess


def _run(argv, cwd):
    r = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), r.returncode,
                                                  r.stderr.decode(errors="replace")))


class CA:
    def __init__(self, dir, name):
        os.makedirs(dir, exist_ok=True)
        self.dir = dir
        self.name = name
        self.key = os.path.join(dir, name + ".key")
        self.crt = os.path.join(dir, name + ".crt")
        _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.key, "-out", self.crt,
              "-days", "2", "-subj", "/CN=%s" % name,
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir)

    def issue(self, name, dns):
        """A leaf for `dns` (list of DNS names): returns (crt, key, combined pem) paths."""
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        crt = os.path.join(self.dir, name + ".crt")
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth,clientAuth\n"
                    "subjectAltName=%s\n" % ",".join("DNS:" + d for d in dns))
        _run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=%s" % dns[0]], self.dir)
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", self.crt, "-CAkey", self.key,
              "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext], self.dir)
        pem = os.path.join(self.dir, name + ".pem")
        with open(pem, "w") as out:
            for p in (crt, key):
                with open(p) as f:
                    out.write(f.read())
        os.chmod(key, 0o600)
        return crt, key, pem
