"""Writes on orders and their items."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from hub.domain.authentication.checks import company_customer_check
from hub.domain.customers.models import Order, OrderItem


def order_item_total(
    *, unit_price: Decimal, quantity: int, discount: Decimal, tax: Decimal
) -> Decimal:
    """``unit_price × quantity − discount + tax`` (SCHEMA.md), to the cent."""
    return (unit_price * quantity - discount + tax).quantize(Decimal("0.01"))


@transaction.atomic
def order_item_add(
    *,
    order: Order,
    product_name: str,
    unit_price: Decimal,
    quantity: int = 1,
    discount: Decimal = Decimal("0.00"),
    tax: Decimal = Decimal("0.00"),
    product_sku: str = "",
) -> OrderItem:
    item = OrderItem(
        order=order,
        product_name=product_name,
        product_sku=product_sku,
        unit_price=unit_price,
        quantity=quantity,
        discount=discount,
        tax=tax,
        total_price=order_item_total(
            unit_price=unit_price, quantity=quantity, discount=discount, tax=tax
        ),
    )
    item.full_clean()
    item.save()
    order_recalculate(order=order)
    return item


def order_recalculate(*, order: Order) -> Order:
    total = order.items.aggregate(total=Sum("total_price"))["total"] or Decimal("0.00")
    order.total_amount = total
    order.save(update_fields=["total_amount", "updated_at"])
    return order


@transaction.atomic
def order_create(
    *,
    company,
    customer,
    order_number: str,
    title: str,
    shipping_address: str,
    billing_address: str,
    created_by=None,
    **fields,
) -> Order:
    company_customer_check(company=company, customer=customer)
    order = Order(
        company=company,
        customer=customer,
        order_number=order_number,
        title=title,
        shipping_address=shipping_address,
        billing_address=billing_address,
        total_amount=Decimal("0.00"),
        created_by=created_by,
        **fields,
    )
    order.full_clean()
    order.save()
    return order
