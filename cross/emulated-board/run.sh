#!/usr/bin/env bash
# Boots the emulated ARM board (qemu-system-aarch64 virt, Debian's arm64 kernel, gpio-sim, i2c-stub,
# a pci-serial UART played by uart_peer.py) and runs a guest test script in it.
#
# Usage: run.sh --test FILE [options]
#   --test FILE        guest shell script, run as /test.sh (see guest/emu-lib.sh for its environment)
#   --seed FILE        i2c-stub seed: lines "ADDR REG VALUE... [MODE]" for `i2cset -y BUS`; the stub
#                      answers at every ADDR named there (default 0x76 only)
#   --uart-plan FILE   what the host side of /dev/ttyS0 does (see uart_peer.py)
#   --agent PATH       aarch64 ganglion binary -> /usr/bin/ganglion; static, or dynamic with glibc:
#                      then its interpreter and NEEDED libraries (recursively) are copied from
#                      $AARCH64_SYSROOT (default /usr/aarch64-linux-gnu) into the guest's /lib
#   --config FILE      -> /etc/ganglion/ganglion.toml
#   --board FILE       -> /etc/ganglion/boards/<name>       (repeatable)
#   --script FILE      -> /etc/ganglion/scripts/<name>      (repeatable)
#   --file SRC=DEST    any other file into the guest        (repeatable)
#   --gpio-names LIST  gpio-sim line names, default "0=BUTTON" (e.g. "0=BUTTON,3=LED")
#   --check CMD        host command run after QEMU exits, with the output folder as its last argument;
#                      its exit status is the run's (e.g. --check "python3 check.py")
#   --out DIR          output folder (default: a new /tmp/ganglion-emu.XXXXXX, removed after a pass
#                      unless --keep); holds share/ (the 9p
#                      share: init.jsonl, results.jsonl, test.log, dmesg.txt), console.log,
#                      uart-rx.log, uart-peer.jsonl, timings.json
#   --timeout S        wall-clock limit for QEMU (default 150); --test-timeout S inside (default 120)
#   --verbose          stream the guest console; --keep keeps the default output folder
# Exit status: 0 when the guest test exited 0 and --check (if any) passed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

t_start=$(date +%s.%N)
test_file="" seed="" plan="" agent="" config="" check="" out="" gpio_names="0=BUTTON"
qemu_timeout=150 test_timeout=120 verbose=0 keep=0
files=()
while (($#)); do
    case $1 in
        --test) test_file=$2; shift ;;
        --seed) seed=$2; shift ;;
        --uart-plan) plan=$2; shift ;;
        --agent) agent=$2; shift ;;
        --config) config=$2; shift ;;
        --board) files+=("$2=/etc/ganglion/boards/$(basename "$2")"); shift ;;
        --script) files+=("$2=/etc/ganglion/scripts/$(basename "$2")"); shift ;;
        --file) files+=("$2"); shift ;;
        --gpio-names) gpio_names=$2; shift ;;
        --check) check=$2; shift ;;
        --out) out=$2; shift ;;
        --timeout) qemu_timeout=$2; shift ;;
        --test-timeout) test_timeout=$2; shift ;;
        --verbose) verbose=1 ;;
        --keep) keep=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
[[ -n $test_file ]] || die "--test FILE is required (see --help)"
for f in "$test_file" $seed $plan $agent $config; do [[ -f $f ]] || die "file not found: $f"; done
[[ $gpio_names =~ ^[0-9]+=[A-Za-z0-9_.-]+(,[0-9]+=[A-Za-z0-9_.-]+)*$ ]] \
    || die "--gpio-names '$gpio_names': want N=NAME[,N=NAME...]"
for tool in qemu-system-aarch64 python3 cpio depmod aarch64-linux-gnu-gcc aarch64-linux-gnu-readelf; do
    command -v "$tool" >/dev/null || die "$tool not found: run cross/setup.sh"
done

# glibc_closure BIN: SRC=DEST pairs for BIN's ELF interpreter and NEEDED libraries (recursively).
glibc_closure() {
    local sysroot=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu} interp queue=("$1") seen=" " f lib
    interp=$(aarch64-linux-gnu-readelf -l "$1" | sed -n 's/.*interpreter: \(.*\)]/\1/p')
    [[ -z $interp ]] && return 0
    [[ -f $sysroot/lib/$(basename "$interp") ]] || die "no $(basename "$interp") in $sysroot/lib"
    echo "$sysroot/lib/$(basename "$interp")=$interp"
    while ((${#queue[@]})); do
        f=${queue[0]}
        queue=("${queue[@]:1}")
        for lib in $(aarch64-linux-gnu-readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            [[ $seen == *" $lib "* || $lib == "$(basename "$interp")" ]] && continue
            seen+="$lib "
            [[ -f $sysroot/lib/$lib ]] || die "$1 needs $lib, not found in $sysroot/lib"
            echo "$sysroot/lib/$lib=/lib/$lib"
            queue+=("$sysroot/lib/$lib")
        done
    done
}

auto_out=0
if [[ -z $out ]]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/ganglion-emu.XXXXXX")
    auto_out=1
else
    rm -rf "$out"
    mkdir -p "$out"
fi
out=$(cd "$out" && pwd)
mkdir -p "$out/share"

qpid="" ppid_=""
cleanup() {
    [[ -n $qpid ]] && kill "$qpid" 2>/dev/null && log "stopped QEMU"
    [[ -n $ppid_ ]] && kill "$ppid_" 2>/dev/null
    [[ -n ${tailpid:-} ]] && kill "$tailpid" 2>/dev/null
    true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Kernel, modules, base root: cached after the first run.
t0=$(date +%s.%N)
kabi=$("$EMU_DIR/fetch.sh")
t1=$(date +%s.%N)
"$EMU_DIR/build-modules.sh" "$kabi"
t2=$(date +%s.%N)

# 2. Per-run initramfs.
stub_addrs=0x76
if [[ -n $seed ]]; then
    stub_addrs=$( (echo 0x76; awk '!/^[[:space:]]*(#|$)/ { print tolower($1) }' "$seed") | sort -u | paste -sd, -)
fi
cat >"$out/emu.env" <<ENV
GPIO_LINES=8
GPIO_NAMES=$gpio_names
STUB_ADDRS=$stub_addrs
TEST_TIMEOUT=$test_timeout
ENV
add=("$out/emu.env=/etc/emu.env" "$test_file=/test.sh")
[[ -n $seed ]] && add+=("$seed=/etc/emu-seed.txt")
if [[ -n $agent ]]; then
    add+=("$agent=/usr/bin/ganglion")
    # A dynamic (glibc) agent gets its interpreter and libraries from the cross toolchain's sysroot.
    mapfile -t libs < <(glibc_closure "$agent")
    add+=(${libs[@]+"${libs[@]}"})
fi
[[ -n $config ]] && add+=("$config=/etc/ganglion/ganglion.toml")
add+=(${files[@]+"${files[@]}"})
"$EMU_DIR/make-initramfs.sh" "$kabi" "$out/initrd.cpio.gz" "${add[@]}"
t3=$(date +%s.%N)

# 3. Host end of the UART, then QEMU.
sock=$out/uart1.sock
python3 "$EMU_DIR/uart_peer.py" --socket "$sock" ${plan:+--plan "$plan"} --rx "$out/uart-rx.log" \
    --log "$out/uart-peer.jsonl" --timeout "$qemu_timeout" &
ppid_=$!
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done
[[ -S $sock ]] || die "uart_peer did not start"

K=$(kdir "$kabi")
: >"$out/console.log"
if ((verbose)); then tail -f "$out/console.log" >&2 & tailpid=$!; fi
log "booting (kernel $kabi-arm64, initrd $(stat -c %s "$out/initrd.cpio.gz") bytes, out $out)"
t4=$(date +%s.%N)
timeout -k 5 "$qemu_timeout" qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 1 -m 512 \
    -display none -monitor none -no-reboot -nic none \
    -kernel "$K/image/boot/vmlinuz-$kabi-arm64" -initrd "$out/initrd.cpio.gz" \
    -append 'console=ttyAMA0 rdinit=/init panic=-1 loglevel=4' \
    -chardev "file,id=con,path=$out/console.log" -serial chardev:con \
    -chardev "socket,id=uart1,path=$sock" -device pci-serial,chardev=uart1 \
    -virtfs "local,path=$out/share,mount_tag=hostshare,security_model=none" \
    </dev/null >"$out/qemu.log" 2>&1 &
qpid=$!
qrc=0
wait "$qpid" || qrc=$?
qpid=""
t5=$(date +%s.%N)
prc=0
wait "$ppid_" || prc=$?
ppid_=""

# 4. Verdict.
ev() { grep -h "\"event\":\"$1\"" "$out/share/init.jsonl" 2>/dev/null | tail -1 || true; }
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2" | tr -d '"' || true; }
init_ev=$(ev init) ready_ev=$(ev ready) done_ev=$(ev done)
rc=0
test_rc=$(field rc "$done_ev")
if ((qrc == 124 || qrc == 137)); then
    log "QEMU timed out after ${qemu_timeout}s"; rc=1
elif ((qrc != 0)); then
    log "QEMU failed (exit $qrc): $(tail -3 "$out/qemu.log")"; rc=1
fi
if [[ -z $done_ev ]]; then
    log "guest did not finish: $(ev init-error)"; rc=1
elif [[ $test_rc != 0 ]]; then
    log "guest test exited $test_rc; last lines of test.log:"; tail -20 "$out/share/test.log" >&2; rc=1
fi
if ((prc != 0)); then log "uart_peer: plan not completed (see uart-peer.jsonl)"; rc=1; fi
if ((rc == 0)) && [[ -n $check ]]; then
    # shellcheck disable=SC2086
    $check "$out" || { log "check failed: $check"; rc=1; }
fi
t6=$(date +%s.%N)
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
upt() { local v; v=$(field uptime "$1"); echo "${v:-null}"; }
cat >"$out/timings.json" <<JSON
{"kernel":"$kabi-arm64","fetch_s":$(secs "$t0" "$t1"),"modules_s":$(secs "$t1" "$t2"),"initrd_s":$(secs "$t2" "$t3"),"initrd_bytes":$(stat -c %s "$out/initrd.cpio.gz"),"qemu_s":$(secs "$t4" "$t5"),"total_s":$(secs "$t_start" "$t6"),"guest_init_uptime":$(upt "$init_ev"),"guest_ready_uptime":$(upt "$ready_ev"),"guest_done_uptime":$(upt "$done_ev")}
JSON
if ((rc != 0)); then
    log "FAILED; console tail:"; tail -25 "$out/console.log" >&2
fi
log "timings: $(cat "$out/timings.json")"
if ((rc == 0 && auto_out && !keep)); then
    rm -rf "$out"
    log "PASS"
else
    log "$([[ $rc == 0 ]] && echo PASS || echo FAIL) (output in $out)"
fi
exit $rc
