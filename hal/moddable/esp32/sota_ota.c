// FFI helpers for hal/moddable/esp32-ota.ts: the running/next OTA partition's label, rollback state and app id,
// which the plain ESP-IDF calls only give through pointers the FFI cannot pass, and the task watchdog.
#include <stdint.h>
#include <stdio.h>
#include "esp_partition.h"
#include "esp_app_desc.h"
#include "esp_task_wdt.h"
// Moddable's ESP32 include path lists $(IDF_PATH)/components, not app_update/include (as in its update-esp32.c).
#include "app_update/include/esp_ota_ops.h"

int32_t sota_ota_running_state(void);
const char *sota_ota_running_label(void);
const char *sota_ota_next_label(void);
int32_t sota_ota_next_state(void);
int32_t sota_ota_invalidate_inactive(void);
const char *sota_ota_running_app_id(void);
const char *sota_ota_next_app_id(void);
int32_t sota_wdt_subscribe(void);
int32_t sota_wdt_feed(void);

static int32_t partition_state(const esp_partition_t *partition)
{
	esp_ota_img_states_t state;
	if (!partition || (ESP_OK != esp_ota_get_state_partition(partition, &state)))
		return -1;
	return (int32_t)state;
}

int32_t sota_ota_running_state(void)
{
	return partition_state(esp_ota_get_running_partition());
}

// Labels live in the partition table copy ESP-IDF keeps for the whole run: a static string for the FFI.
const char *sota_ota_running_label(void)
{
	const esp_partition_t *partition = esp_ota_get_running_partition();
	return partition ? partition->label : "";
}

const char *sota_ota_next_label(void)
{
	const esp_partition_t *partition = esp_ota_get_next_update_partition(NULL);
	return partition ? partition->label : "";
}

int32_t sota_ota_next_state(void)
{
	return partition_state(esp_ota_get_next_update_partition(NULL));
}

// ESP_FAIL when there is no inactive entry to erase (fresh otadata, or it names the running partition).
int32_t sota_ota_invalidate_inactive(void)
{
	return (int32_t)esp_ota_invalidate_inactive_ota_data_slot();
}

static char app_id[65];

static const char *hex_id(const uint8_t *sha)
{
	for (int i = 0; i < 32; i++)
		snprintf(app_id + 2 * i, 3, "%02x", sha[i]);
	return app_id;
}

// One static buffer: the FFI copies the string into a JavaScript string before the next call.
const char *sota_ota_running_app_id(void)
{
	return hex_id(esp_app_get_description()->app_elf_sha256);
}

const char *sota_ota_next_app_id(void)
{
	esp_app_desc_t desc;
	const esp_partition_t *partition = esp_ota_get_next_update_partition(NULL);
	if (!partition || (ESP_OK != esp_ota_get_partition_description(partition, &desc)))
		return "";
	return hex_id(desc.app_elf_sha256);
}

// The task watchdog (CONFIG_ESP_TASK_WDT_INIT) then watches the XS task: a hung trial resets into rollback.
int32_t sota_wdt_subscribe(void)
{
	esp_err_t err = esp_task_wdt_add(NULL);
	return (err == ESP_ERR_INVALID_ARG) ? ESP_OK : (int32_t)err; // already subscribed
}

int32_t sota_wdt_feed(void)
{
	return (int32_t)esp_task_wdt_reset();
}

#include "driver/uart.h"
#include "hal/uart_ll.h"

int32_t sota_uart_tune(int32_t port, int32_t rts, int32_t cts, int32_t rx_threshold, int32_t flow_threshold);

// After embedded:io/serial opened the port (it sets no RTS/CTS and leaves the RX-full threshold alone):
// the interrupt threshold, and optionally RTS/CTS with RTS released at flow_threshold bytes in the FIFO.
int32_t sota_uart_tune(int32_t port, int32_t rts, int32_t cts, int32_t rx_threshold, int32_t flow_threshold)
{
	uart_ll_set_rxfifo_full_thr(UART_LL_GET_HW(port), (uint16_t)rx_threshold);
	if (rts < 0 || cts < 0)
		return ESP_OK;
	esp_err_t err = uart_set_pin((uart_port_t)port, UART_PIN_NO_CHANGE, UART_PIN_NO_CHANGE, rts, cts);
	if (err != ESP_OK)
		return (int32_t)err;
	return (int32_t)uart_set_hw_flow_ctrl((uart_port_t)port, UART_HW_FLOWCTRL_CTS_RTS, (uint8_t)flow_threshold);
}
