#!/usr/bin/env python3
"""Writes a one-layer OCI image layout from a directory tree.

    oci-image.py --arch riscv64 --out DIR [--cmd JSON] [--env K=V]... [--tag TAG] ROOTDIR

The layer is a gzip tar of ROOTDIR with every file owned by root and mtime 0, so the same tree
always gives the same digests.
"""
import argparse, gzip, hashlib, io, json, os, tarfile


def layer_tar(root):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirs, files in os.walk(root):
            dirs.sort()
            for name in dirs + sorted(files):
                path = os.path.join(dirpath, name)
                info = tar.gettarinfo(path, arcname=os.path.relpath(path, root))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = 0
                if info.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return buf.getvalue()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--cmd", default='["/bin/sh"]')
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--tag", default="latest")
    p.add_argument("root")
    a = p.parse_args()

    blobs = {}

    def blob(data):
        digest = hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return "sha256:" + digest

    raw = layer_tar(a.root)
    gz = gzip.compress(raw, mtime=0)
    config = json.dumps({
        "architecture": a.arch, "os": "linux",
        "config": {"Cmd": json.loads(a.cmd), "Env": a.env or ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": blob(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": blob(gz), "size": len(gz)}],
    }, sort_keys=True).encode()
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": blob(manifest), "size": len(manifest),
                       "platform": {"architecture": a.arch, "os": "linux"},
                       "annotations": {"org.opencontainers.image.ref.name": a.tag}}],
    }, sort_keys=True).encode()

    os.makedirs(os.path.join(a.out, "blobs", "sha256"), exist_ok=True)
    for digest, data in blobs.items():
        with open(os.path.join(a.out, "blobs", "sha256", digest), "wb") as f:
            f.write(data)
    with open(os.path.join(a.out, "index.json"), "wb") as f:
        f.write(index)
    with open(os.path.join(a.out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


if __name__ == "__main__":
    main()
