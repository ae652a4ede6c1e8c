#!/usr/bin/env bash
# Run the README's quick-start commands in a fresh clone with a fresh .venv, as a new user would.
# Usage: bash tests/readme_fresh_clone.sh [demo|test|both]   (default: demo)
set -euo pipefail
which="${1:-demo}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
dest="$(mktemp -d)"
git clone -q "$repo" "$dest/medsynth"
ln -s "$(cd "$repo/.." && pwd)/shared" "$dest/shared"  # tests read ../shared/data
cd "$dest/medsynth"
demo_cmd="$(grep -m1 -A1 '^```bash$' README.md | tail -1)"
test_cmd="$(grep -m1 -A2 '^```bash$' README.md | tail -1)"
if [[ "$which" == demo || "$which" == both ]]; then
  echo "+ $demo_cmd"; time bash -c "$demo_cmd"
fi
if [[ "$which" == test || "$which" == both ]]; then
  echo "+ $test_cmd"; time bash -c "$test_cmd"
fi
echo "fresh clone: $dest/medsynth"
