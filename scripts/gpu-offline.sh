#!/usr/bin/env bash
# gpu-offline.sh builds every OpenCL program clattn can launch for the H100
# (sm_90) and AMD's gfx90a, gfx940 and gfx1030 with the vendors' compilers,
# without a GPU, and writes bench/results/gpu-offline.txt: registers, spills,
# stack frame, local memory and occupancy per kernel. It fails on a compile
# error, a spill, a stack frame or local memory over the device's limit.
#
# Tools: clang-15 and libclc-15 (Debian main), and ptxas + cuobjdump from
# Debian bookworm's non-free nvidia-cuda-toolkit .deb (~80 MB), downloaded with
# apt-get into .tools/ and unpacked there (never installed: its dependencies
# are not needed). The system's apt sources are left as they are.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tools=.tools
cuda=$tools/cuda
out=${1:-bench/results/gpu-offline.txt}

fail() { echo "gpu-offline: $*" >&2; exit 1; }

need_apt() {
	local pkgs=()
	command -v clang-15 >/dev/null 2>&1 || pkgs+=(clang-15)
	[ -f /usr/lib/clc/nvptx64--nvidiacl.bc ] || pkgs+=(libclc-15)
	[ ${#pkgs[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		fail "missing ${pkgs[*]}: install them (sudo apt-get install -y ${pkgs[*]}) and run again"
	fi
	echo "installing ${pkgs[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null ||
		fail "apt-get install ${pkgs[*]} failed"
}

fetch_cuda() {
	[ -x "$cuda/usr/bin/ptxas" ] && [ -x "$cuda/usr/bin/cuobjdump" ] && return 0
	command -v ptxas >/dev/null 2>&1 && command -v cuobjdump >/dev/null 2>&1 && return 0
	echo "fetching ptxas and cuobjdump from Debian's non-free nvidia-cuda-toolkit (about 80 MB)"
	local apt=$tools/apt
	mkdir -p "$apt/lists/partial" "$apt/sources" "$cuda"
	local suite
	suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	cat >"$apt/sources/non-free.sources" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite
Components: non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
	local o=(-o "Dir::State::Lists=$PWD/$apt/lists" -o "Dir::Etc::SourceList=/dev/null"
		-o "Dir::Etc::SourceParts=$PWD/$apt/sources" -o "Debug::NoLocking=1")
	apt-get "${o[@]}" update -qq ||
		fail "apt-get could not read Debian's non-free component (no network, or no Debian mirror): ptxas and cuobjdump are missing; get them from the nvidia-cuda-toolkit package (Debian non-free) or NVIDIA's CUDA toolkit and put them on PATH"
	(cd "$apt" && apt-get "${o[@]}" download nvidia-cuda-toolkit) ||
		fail "could not download nvidia-cuda-toolkit from Debian non-free"
	dpkg-deb -x "$apt"/nvidia-cuda-toolkit_*.deb "$cuda"
	rm -f "$apt"/nvidia-cuda-toolkit_*.deb
	[ -x "$cuda/usr/bin/ptxas" ] || fail "the nvidia-cuda-toolkit package has no usr/bin/ptxas"
}

need_apt
fetch_cuda
go run ./internal/gpuoffline/cmd -cuda "$cuda" -out "$out"
