# The one recipe for Go binaries from the module proxy, cached outside the repository.
# shellcheck shell=bash
#
#   go_build_cached [OPTION]... NAME MODULE@VERSION PACKAGE[=BINARY]...
#
# Builds each PACKAGE of MODULE at VERSION inside a throw-away wrapper module (so the upstream
# module's own replace lines, which `go install pkg@version` refuses, never matter) and installs
# the binaries into the directory `go_cache_dir NAME VERSION` prints: $PIM_CACHE_DIR/NAME-vX.Y.Z.
#
#   PACKAGE   a full import path, "." for MODULE's root package, or "./sub/dir" below MODULE
#   BINARY    the installed name (default: the package's last element, a /vN suffix skipped)
#
# Options (each one is part of the cache key):
#   --ldflags FLAGS    linker flags added to "-s -w" (see k8s_version_ldflags)
#   --tags TAGS        build tags (comma-separated), used both to resolve modules and to build
#   --cgo              build with CGO_ENABLED=1 (default 0: static binaries)
#   --k8s-staging      replace each k8s.io/* module that MODULE requires at v0.0.0 by its published
#                      v0.MINOR.PATCH: what k8s.io/kubernetes needs (its staging modules are
#                      replaced in-tree, which a dependent module ignores); generated from
#                      MODULE's go.mod, since the list changes between minors
#   --replace OLD=NEW  an extra replace line in the wrapper module (repeatable)
#   --go VERSION       the wrapper's go line (default: MODULE's own, so GODEBUG defaults match upstream)
#
# Behaviour:
#   - a no-op (one log line) when every binary is in the cache directory and its stamp
#     (.pim-build) records the same key; a directory from before stamps, with every binary
#     present, is adopted as it is
#   - safe to run concurrently: builds of one NAME-vVERSION are serialised by a lock in
#     $PIM_CACHE_DIR/.locks (the second finds the first one's result), and every build works in
#     its own mktemp directory, so builds of different things never share a path
#   - atomic: binaries are built into the work directory and renamed into place at the end; an
#     interrupted build leaves the cache as it was
#   - progress: each step logs what it builds; long steps show a heartbeat with the elapsed time
#     and how many packages have been compiled (hack/lib/log.sh, log::run)
#   - reports "built" or "cached" through log::record (CI's summary)
#
# Also here:
#   go_cache_dir NAME VERSION       the cache directory (VERSION with or without its leading v)
#   k8s_version_ldflags VERSION     -X flags that make Kubernetes binaries report VERSION (without
#                                   them they say v0.0.0-master and version parsing breaks)
#
# Environment: PIM_CACHE_DIR; GOFLAGS is kept (-mod=mod is added); GOTOOLCHAIN is forced to
# local (never download a toolchain); Go's own build and module caches are shared as usual.

go_cache_dir() { echo "$PIM_CACHE_DIR/$1-v${2#v}"; }

k8s_version_ldflags() {
  local v=${1#v} rest p out=""
  rest=${v#*.}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    out+="-X $p.gitVersion=v$v -X $p.gitMajor=${v%%.*} -X $p.gitMinor=${rest%%.*} "
    out+="-X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z "
  done
  echo "${out% }"
}

go_build_cached() {
  local ldflags="" tags="" cgo=0 staging=0 goline="" replaces=()
  while [[ ${1:-} == --* ]]; do
    case $1 in
      --ldflags) ldflags=$2; shift 2 ;;
      --tags) tags=$2; shift 2 ;;
      --cgo) cgo=1; shift ;;
      --k8s-staging) staging=1; shift ;;
      --replace) replaces+=("$2"); shift 2 ;;
      --go) goline=$2; shift 2 ;;
      *) log::die "go_build_cached: unknown option $1" ;;
    esac
  done
  (($# >= 3)) || log::die "usage: go_build_cached [OPTION]... NAME MODULE@VERSION PACKAGE[=BINARY]..."
  local name=$1 modver=$2
  shift 2
  [[ $modver == *@v* ]] || log::die "go_build_cached: $modver is not MODULE@vVERSION"
  local module=${modver%@*} version=${modver##*@} spec pkg bin pkgs=() bins=()
  for spec; do
    pkg=${spec%%=*}
    bin=""
    [[ $spec != *=* ]] || bin=${spec#*=}
    case $pkg in
      .) pkg=$module ;;
      ./*) pkg=$module/${pkg#./} ;;
    esac
    [ -n "$bin" ] || bin=$(go::_binary_name "$pkg")
    pkgs+=("$pkg")
    bins+=("$bin")
  done
  local dir key
  dir=$(go_cache_dir "$name" "$version")
  key=$(printf '%s\n' "$modver" "${pkgs[@]}" "${bins[@]}" "ldflags=$ldflags" "tags=$tags" "cgo=$cgo" \
    "staging=$staging" "go=$goline" "${replaces[@]}" | sha256sum | cut -c1-16)
  if go::_current "$dir" "$key" "${bins[@]}"; then
    log::info "$name $version: cached in $dir"
    log::record "$name $version" cached
    return 0
  fi
  mkdir -p "$PIM_CACHE_DIR/.locks"
  (
    exec 9>"$PIM_CACHE_DIR/.locks/$name-v${version#v}.lock"
    if ! flock -n 9; then
      log::info "$name $version: another build of it is running; waiting for it"
      flock 9
      if go::_current "$dir" "$key" "${bins[@]}"; then
        log::info "$name $version: built by the other run, in $dir"
        log::record "$name $version" cached
        exit 0
      fi
    fi
    go::_build
  )
}

# go::_binary_name PACKAGE: what `go install` would call it.
go::_binary_name() {
  local p=$1
  [[ ! ${p##*/} =~ ^v[0-9]+$ ]] || p=${p%/*}
  echo "${p##*/}"
}

# go::_current DIR KEY BINARY...: every binary is there, and DIR's stamp says KEY (or DIR has no
# stamp yet: a cache filled before stamps existed; it is adopted).
go::_current() {
  local dir=$1 key=$2 b
  shift 2
  for b; do [ -x "$dir/$b" ] || return 1; done
  if [ -f "$dir/.pim-build" ]; then
    [ "$(head -n 1 "$dir/.pim-build")" = "$key" ]
  else
    printf '%s\nadopted %(%F %T)T\n' "$key" -1 >"$dir/.pim-build" 2>/dev/null || true
  fi
}

# go::_build: the build itself, in a subshell of go_build_cached (its variables in scope).
go::_build() {
  local work t0 gomod i m
  t0=$(log::now)
  work=$(mktemp -d "$PIM_CACHE_DIR/.work-$name.XXXXXX")
  # shellcheck disable=SC2064 # expand $work now
  trap "rm -rf '$work'" EXIT
  export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" CGO_ENABLED=$cgo
  cd "$work" || exit 1
  log::info "$name $version: building ${bins[*]} from $module into $dir"
  log::run "$name: downloading $modver" "$work/download.log" go::_download "$modver" "$work/module.json"
  gomod=$(jq -r .GoMod "$work/module.json")
  [ -n "$goline" ] || goline=$(awk '$1 == "go" { print $2; exit }' "$gomod")
  go mod init "local/pim-build/$name" >/dev/null 2>&1
  go mod edit -go="${goline:-1.22}" -require="$modver"
  if [ "$staging" = 1 ]; then
    for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "$gomod"); do
      go mod edit -replace="$m=$m@v0.${version#v1.}"
    done
  fi
  for m in "${replaces[@]}"; do go mod edit -replace="$m"; done
  log::run "$name: resolving the modules of ${bins[*]}" "$work/resolve.log" \
    go get -tags "$tags" "${pkgs[@]/%/@$version}"
  mkdir "$work/out"
  for i in "${!pkgs[@]}"; do
    GO_BUILD_TOTAL=$(go list -deps -tags "$tags" "${pkgs[$i]}" 2>/dev/null | wc -l)
    LOG_PROGRESS=go::_progress log::run "$name: go build ${bins[$i]}" "$work/build-${bins[$i]}.log" \
      go build -v -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$work/out/${bins[$i]}" "${pkgs[$i]}"
  done
  printf '%s\n%s %s, %s, built %(%F %T)T\n' "$key" "$modver" "$(go env GOVERSION)" "${pkgs[*]}" -1 \
    >"$work/out/.pim-build"
  if [ -e "$dir" ]; then mv "$dir" "$work/previous"; fi
  mv "$work/out" "$dir"
  log::info "$name $version: built ${bins[*]} in $(log::human "$(log::since "$t0")")"
  log::record "$name $version" built "$(log::human "$(log::since "$t0")")"
}

# go::_download MODULE@VERSION JSON: fetch the module; its description (GoMod, Dir) into JSON.
go::_download() { go mod download -json "$1" >"$2"; }

# LOG_PROGRESS of a go build -v: packages compiled so far, of those in the build, and the newest.
go::_progress() {
  local compiled last
  compiled=$(grep -c . "$1" 2>/dev/null) || true
  last=$(log::last_line "$1")
  echo "${compiled:-0} of ${GO_BUILD_TOTAL:-?} packages compiled (cached ones are skipped; linking comes last)${last:+, last $last}"
}
