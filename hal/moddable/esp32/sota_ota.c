// FFI helpers for hal/moddable/esp32-ota.ts: the running/next OTA partition's label and rollback state,
// which the plain ESP-IDF calls only give through pointers the FFI cannot pass.
#include <stdint.h>
#include "esp_partition.h"
#include "esp_ota_ops.h"

int32_t sota_ota_running_state(void);
const char *sota_ota_running_label(void);
const char *sota_ota_next_label(void);
int32_t sota_ota_next_state(void);

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
