// docs/prisma.md's booking through the phase-2 schema, type-checked against the client
// generated from `slotcap prisma-schema --phase phase2` (tests/integration/
// test_prisma_client_phases.py runs `tsc --noEmit` on it). The app imports from
// "@prisma/client"; the test's clients live in .gen/ (three side by side).
import { PrismaClient } from "./.gen/phase2";
import { PrismaPg } from "@prisma/adapter-pg";

const globalForPrisma = globalThis as unknown as { prisma?: PrismaClient };
export const prisma =
  globalForPrisma.prisma ??
  new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL! }) });
if (process.env.NODE_ENV !== "production") globalForPrisma.prisma = prisma;

export async function bookMorning(patientName: string, phone: string, birthDate: Date) {
  const HELD = ["PENDING", "CONFIRMED"] as const;
  const reservation = await prisma.$transaction(async (tx) => {
    const service = await tx.service.findUniqueOrThrow({ where: { code: "SKIN_CARE" } });
    const day = new Date("2026-03-02T00:00:00Z");                  // a @db.Date
    const slot = await tx.clinicTimeSlot.findUnique({
      where: { dayOfWeek_period: { dayOfWeek: day.getUTCDay(), period: "MORNING" } },
    });
    const held = await tx.reservation.aggregate({
      _sum: { estimatedDuration: true },
      where: { preferredDate: day, period: "MORNING", status: { in: [...HELD] } },
    });
    const minutes = service.durationMinutes + service.bufferMinutes;
    if (!slot?.isActive || (held._sum.estimatedDuration ?? 0) + minutes > slot.totalMinutes) {
      throw new Error("FULL");
    }
    return tx.reservation.create({
      data: {
        id: crypto.randomUUID(), patientName, phone, birthDate, gender: "FEMALE",
        treatmentType: "FIRST_VISIT", preferredDate: day, updatedAt: new Date(),
        service: "SKIN_CARE", preferredTime: "10:00",                // the old columns
        serviceRelation: { connect: { id: service.id } },            // the new ones
        serviceName: service.name, estimatedDuration: minutes, period: "MORNING",
      },
      include: { serviceRelation: true },
    });
  });
  return reservation.serviceRelation?.code;
}
