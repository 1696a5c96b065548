# Guest side of the agent smoke test, run by agent/guest.sh once the agent has logged its first line:
# reads back the output line the script drives, then makes three edges on line 0 (BUTTON).
. /lib/emu-lib.sh
sleep 1
emit "{\"test\":\"led\",\"line\":3,\"value\":$(gpio_value 3)}"
gpio_pull 0 up; sleep 0.3; gpio_pull 0 down; sleep 0.3; gpio_pull 0 up
