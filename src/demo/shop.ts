import type { NewStreamEvent } from '../core/events.js';

/** A small deterministic PRNG (mulberry32): the same seed gives the same shop every time. */
function random(seed: number) {
  let state = seed >>> 0;
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PRODUCTS = [
  { sku: 'KB-001', name: 'Mechanical keyboard', priceCents: 8900 },
  { sku: 'MS-002', name: 'Wireless mouse', priceCents: 2900 },
  { sku: 'MN-003', name: '27" monitor', priceCents: 24900 },
  { sku: 'HS-004', name: 'Headset', priceCents: 5900 },
  { sku: 'CB-005', name: 'USB-C cable', priceCents: 900 },
  { sku: 'DK-006', name: 'Docking station', priceCents: 15900 },
  { sku: 'WC-007', name: 'Webcam', priceCents: 6900 },
  { sku: 'LP-008', name: 'Laptop stand', priceCents: 3900 },
] as const;
const CARRIERS = ['PostNL', 'DHL', 'UPS'] as const;
const METHODS = ['card', 'ideal', 'paypal'] as const;

export interface ShopOptions {
  carts?: number;
  seed?: number;
  /** Day the first cart opens; events carry business times from here on. */
  start?: string;
}

/**
 * Carts, orders, payments and shipments of a small web shop. Every event has a stable id, so
 * writing the demo again stores nothing twice.
 */
export function generateShop(options: ShopOptions = {}): NewStreamEvent[] {
  const carts = options.carts ?? 2000;
  const next = random(options.seed ?? 42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const customers = Math.max(1, Math.floor(carts / 4));
  let clock = Date.parse(options.start ?? '2026-10-01T08:00:00.000Z');
  const events: NewStreamEvent[] = [];
  const at = (minutes: number): string => {
    clock += Math.round(minutes * 60_000);
    return new Date(clock).toISOString();
  };

  for (let n = 1; n <= carts; n++) {
    const cartId = `cart-${String(n).padStart(5, '0')}`;
    const customerId = `customer-${String(1 + Math.floor(next() * customers)).padStart(4, '0')}`;
    const cart = `shop/${cartId}`;
    let seq = 0;
    const push = (streamId: string, type: string, data: Record<string, unknown>) => events.push({ id: `demo-${cartId}-${++seq}`, streamId, type, data });

    push(cart, 'CartCreated', { cartId, customerId, at: at(next() * 30) });
    const lines = new Map<string, { sku: string; quantity: number; priceCents: number }>();
    const adds = 1 + Math.floor(next() * 4);
    for (let i = 0; i < adds; i++) {
      const product = pick(PRODUCTS);
      const quantity = 1 + Math.floor(next() * 3);
      const line = lines.get(product.sku) ?? { sku: product.sku, quantity: 0, priceCents: product.priceCents };
      line.quantity += quantity;
      lines.set(product.sku, line);
      push(cart, 'ItemAdded', { cartId, sku: product.sku, name: product.name, quantity, priceCents: product.priceCents, at: at(next() * 5) });
    }
    if (lines.size > 1 && next() < 0.2) {
      const [sku] = lines.keys();
      lines.delete(sku as string);
      push(cart, 'ItemRemoved', { cartId, sku, at: at(next() * 3) });
    }
    if (next() < 0.15) {
      push(cart, 'CartAbandoned', { cartId, at: at(60) });
      continue;
    }
    const orderId = `order-${String(n).padStart(5, '0')}`;
    const order = `shop/${orderId}`;
    const items = [...lines.values()];
    const totalCents = items.reduce((sum, l) => sum + l.quantity * l.priceCents, 0);
    push(cart, 'CartCheckedOut', { cartId, orderId, at: at(next() * 10) });
    push(order, 'OrderPlaced', { orderId, cartId, customerId, items, totalCents, at: at(0.1) });
    if (next() < 0.08) {
      push(order, 'PaymentFailed', { orderId, amountCents: totalCents, reason: 'card declined', at: at(1) });
      if (next() < 0.5) {
        push(order, 'OrderCancelled', { orderId, reason: 'payment failed', at: at(30) });
        continue;
      }
    }
    push(order, 'PaymentCaptured', { orderId, amountCents: totalCents, method: pick(METHODS), at: at(1 + next() * 5) });
    if (next() < 0.03) {
      push(order, 'OrderCancelled', { orderId, reason: 'customer request', at: at(60) });
      continue;
    }
    push(order, 'OrderShipped', { orderId, carrier: pick(CARRIERS), trackingNo: `TRK${100000 + n}`, at: at(60 * (2 + next() * 20)) });
    if (next() < 0.95) push(order, 'OrderDelivered', { orderId, at: at(60 * (12 + next() * 48)) });
  }
  return events;
}
