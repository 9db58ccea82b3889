#!/usr/bin/env bash
# Builds the Debian package (target/debian/convsync_<version>-1_<arch>.deb)
# from the dist profile: the stripped binary, the units, the example
# config (`convsync init`'s output, a conffile), man pages, bash/zsh/fish
# completions and the docs. Installs cargo-deb (from the crate registry)
# and dpkg-dev when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-deb >/dev/null; then
  echo "build-deb: installing cargo-deb (a few minutes, once)" >&2
  cargo install cargo-deb --locked --quiet
fi
if ! command -v dpkg-shlibdeps >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && apt-get install -y -qq dpkg-dev) >/dev/null 2>&1 || true
fi
cargo build --profile dist --locked --quiet --bin convsync
bin=target/dist/convsync
rm -rf target/package
mkdir -p target/package/man target/package/completions
"$bin" man --dir target/package/man
gzip -9n target/package/man/*.1
"$bin" completions bash > target/package/completions/convsync.bash
"$bin" completions zsh > target/package/completions/_convsync
"$bin" completions fish > target/package/completions/convsync.fish
"$bin" init > target/package/config.toml
cargo deb --no-build --profile dist --quiet
ls -t target/debian/convsync_*.deb | head -1
