'use strict';
// The clinic application's Prisma calls, run by the real Prisma 7 clients generated
// into .gen/ (legacy, phase2, phase4) over @prisma/adapter-pg.
// Usage: DATABASE_URL=postgresql://... node app.js < ops.json
// ops.json: [{"client": "legacy"|"phase2"|"phase4", "op": "...", "args": {...}}, ...]
// Prints one JSON array: per op {"ok": result} or {"error": {"code", "message"}} (a
// Prisma error's code, e.g. P2022, and its message; never a stack).
const fs = require('fs');
const path = require('path');
const { PrismaPg } = require('@prisma/adapter-pg');

const HELD = ['PENDING', 'CONFIRMED'];
const clients = {};

function client(name) {
  if (!clients[name]) {
    const { PrismaClient } = require(path.join(__dirname, '.gen', name));
    const adapter = new PrismaPg({ connectionString: process.env.DATABASE_URL });
    clients[name] = new PrismaClient({ adapter });
  }
  return clients[name];
}

const patient = (id, args) => ({
  id,
  patientName: 'Prisma Patient',
  phone: '010-0000-0007',
  birthDate: new Date('1990-01-01T00:00:00Z'),
  gender: 'FEMALE',
  treatmentType: 'FIRST_VISIT',
  preferredDate: new Date(`${args.day}T00:00:00Z`),
  updatedAt: new Date(),
});

// What the legacy application does (migration-strategy.md, "current" booking code).
const legacy = {
  async create(prisma, args) {
    return prisma.reservation.create({
      data: { ...patient(args.id, args), preferredTime: args.time, service: args.service },
    });
  },
  async held(prisma, args) {
    const count = await prisma.reservation.count({
      where: { preferredDate: new Date(`${args.day}T00:00:00Z`), service: args.service, status: { in: HELD } },
    });
    const limit = await prisma.service_reservation_limits.findUnique({ where: { serviceType: args.service } });
    return { count, dailyLimit: limit ? limit.dailyLimit : null };
  },
};

// The dynamic path (plan 3.x): capacity in minutes per period, the Service relation.
async function book(prisma, args, relation, legacyColumns) {
  return prisma.$transaction(async (tx) => {
    const service = await tx.service.findUnique({ where: { code: args.service } });
    if (!service) return { refused: 'UNKNOWN_SERVICE' };
    const day = new Date(`${args.day}T00:00:00Z`);
    const slot = await tx.clinicTimeSlot.findUnique({
      where: { dayOfWeek_period: { dayOfWeek: day.getUTCDay(), period: args.period } },
    });
    const held = await tx.reservation.aggregate({
      _sum: { estimatedDuration: true },
      where: { preferredDate: day, period: args.period, status: { in: HELD } },
    });
    const minutes = service.durationMinutes + service.bufferMinutes;
    const booked = held._sum.estimatedDuration ?? 0;
    if (!slot || !slot.isActive || booked + minutes > slot.totalMinutes) {
      return { refused: 'FULL', booked, capacity: slot ? slot.totalMinutes : 0 };
    }
    const data = {
      ...patient(args.id, args),
      serviceName: service.name,
      estimatedDuration: minutes,
      period: args.period,
      [relation]: { connect: { id: service.id } },
      ...(legacyColumns ? { service: args.service, preferredTime: args.time } : {}),
    };
    const created = await tx.reservation.create({ data, include: { [relation]: true } });
    return { reservation: created, bookedBefore: booked, capacity: slot.totalMinutes };
  });
}

const dynamic = (relation, legacyColumns) => ({
  book: (prisma, args) => book(prisma, args, relation, legacyColumns),
  async read(prisma, args) {
    return prisma.reservation.findUnique({ where: { id: args.id }, include: { [relation]: true } });
  },
});

const OPS = {
  legacy,
  phase2: { ...dynamic('serviceRelation', true), ...legacy },
  phase4: dynamic('service', false),
};

async function run(op) {
  const table = OPS[op.client];
  if (!table || !table[op.op]) throw new Error(`unknown op ${op.client}.${op.op}`);
  try {
    return { ok: await table[op.op](client(op.client), op.args || {}) };
  } catch (err) {
    return { error: { code: err.code ?? err.name, message: String(err.message).trim() } };
  }
}

(async () => {
  const ops = JSON.parse(fs.readFileSync(0, 'utf8'));
  const results = [];
  for (const op of ops) results.push(await run(op));
  await Promise.all(Object.values(clients).map((c) => c.$disconnect()));
  process.stdout.write(`${JSON.stringify(results)}\n`);
})().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
