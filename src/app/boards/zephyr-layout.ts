// The Zephyr board's flash, portable so it is tested on Node and in XS: MCUboot's slots and the records' partition
// joined into the one address space the MCUboot backend wants, and the first boot record of a fresh board.

import { RecordStore, emptySlot } from "../../boot/records.js";
import { journalCapacity } from "../../flash-format/layout.js";
import type { FlashLayout } from "../../flash-format/layout.js";
import type { FlashPartition } from "../../../hal/flash.js";
import type { JoinedFlash } from "../../../hal/moddable/flash-map.js";

/**
 * The backend's one address space: [records partition | slot 0 | slot 1] (`flash` joins them in that order). The
 * records partition holds the two record blocks and the resume journal; the slots are MCUboot's, whole, so the
 * trailers sit at their real ends.
 */
export function zephyrLayout(flash: JoinedFlash): FlashLayout {
  const { size, blockLength, writeAlign, eraseValue } = flash.status();
  const [records, slot0, slot1] = flash.parts.map((part) => part.flash.status().size) as [
    number,
    number,
    number,
  ];
  const recordsSize = records;
  const slotSize = slot0;
  if (slot1 !== slotSize)
    throw new Error(
      `slot 1 (${slot1} bytes) differs from slot 0 (${slotSize}): the MCUboot backend wants equal slots (docs/stm32-zephyr.md)`,
    );
  const journalLength = recordsSize - 2 * blockLength;
  const layout: FlashLayout = {
    size,
    blockLength,
    writeAlign,
    eraseValue,
    records: [
      { offset: 0, length: blockLength },
      { offset: blockLength, length: blockLength },
    ],
    journal: { offset: 2 * blockLength, length: journalLength },
    slots: [
      { offset: recordsSize, length: slotSize },
      { offset: recordsSize + slotSize, length: slotSize },
    ],
  };
  if (journalLength <= 0 || journalCapacity(layout, journalLength) < slotSize / blockLength)
    throw new Error(
      `the records partition (${recordsSize} bytes) needs 2 record blocks and a journal for ${slotSize / blockLength} sectors`,
    );
  return layout;
}

/** A board fresh from the programmer has no record: slot 0 runs this build (component, version of the config). */
export function provisionRecords(
  flash: FlashPartition,
  layout: FlashLayout,
  build: { component: string; version: string },
): boolean {
  const store = new RecordStore(flash, layout);
  if (store.load()) return false;
  // Atomic: this one record names the running image; cut before it, the next start-up writes it again.
  store.commit({
    seq: 0,
    confirmedSlot: 0,
    slots: [
      { ...emptySlot(), state: "confirmed", component: build.component, version: build.version },
      emptySlot(),
    ],
  });
  return true;
}
