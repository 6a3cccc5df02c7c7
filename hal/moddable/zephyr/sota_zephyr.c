// Native helpers of the app on Zephyr, reached through the manifest's "ffi" (hal/moddable/zephyr-natives.ts).
// The SDK's System.restart() does not reset a Zephyr board (it waits forever), and MCUboot acts only at a reset.

#include <stdint.h>
#include <zephyr/sys/reboot.h>

int32_t sota_reboot(void)
{
	sys_reboot(SYS_REBOOT_COLD);
	return -1;
}
