# Guest half of the busybox-only self-test of the emulated board (no agent needed): gpio-sim pull
# and value, an i2c-stub register seeded from seed.txt, and one line each way over /dev/ttyS0.
# Writes JSON lines to $RESULTS; selftest/check.py asserts them on the host.
. /lib/emu-lib.sh
set -u

# The chip's label as the kernel reports it (debugfs:
# "gpiochip1: GPIOs 512-519, parent: platform/gpio-sim.0, sim-bank0, can sleep:").
label=$(sed -n "s/^$GPIOSIM_CHIP: .*parent: [^,]*, \([^,:]*\).*/\1/p" /sys/kernel/debug/gpio)
emit "{\"test\":\"env\",\"gpiochip\":\"$GPIOSIM_CHIP\",\"label\":\"$label\",\"i2c_bus\":$I2C_BUS,\"uptime\":$(uptime_s)}"

# GPIO: drive line 0 (BUTTON) from outside with the simulated pull, read it back.
gpio_pull 0 up;   up=$(gpio_value 0)
gpio_pull 0 down; down=$(gpio_value 0)
name=$(cat "/sys/kernel/config/gpio-sim/board/bank0/line0/name")
emit "{\"test\":\"gpio\",\"line\":0,\"name\":\"$name\",\"after_pull_up\":$up,\"after_pull_down\":$down}"

# I2C: registers seeded by /init from seed.txt, read through the real i2c-dev + SMBus stack.
chip_id=$(i2cget -y "$I2C_BUS" 0x76 0xd0 b)
word=$(i2cget -y "$I2C_BUS" 0x76 0x88 w)
emit "{\"test\":\"i2c\",\"addr\":\"0x76\",\"reg_0xd0\":\"$chip_id\",\"word_0x88\":\"$word\"}"

# UART: open the 16550 first (opening flushes its FIFO), then greet the host and read its reply.
stty -F "$UART" 9600 raw -echo
exec 3<>"$UART"
printf 'HELLO from %s\r\n' "$(uname -m)" >&3
line=""
read -t 10 -r line <&3
line=$(printf '%s' "$line" | tr -d '\r')
emit "{\"test\":\"uart\",\"received\":\"$line\",\"uptime\":$(uptime_s)}"
exec 3<&-
