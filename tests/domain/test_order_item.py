from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from hub.domain.customers.models import Order, OrderItem
from hub.domain.customers.services import order_create, order_item_add, order_item_total
from tests import factories


@pytest.fixture
def customer(acme):
    return factories.CustomerCompanyFactory(company=acme).customer


@pytest.fixture
def order(acme, alice, customer):
    return order_create(
        company=acme,
        customer=customer,
        order_number="ACME-0001",
        title="Anvils",
        shipping_address="1 Desert Road",
        billing_address="1 Desert Road",
        created_by=alice,
    )


def test_order_create_starts_at_zero(order):
    order.refresh_from_db()

    assert order.total_amount == Decimal("0.00")
    assert not order.items.exists()


def test_item_total_is_price_times_quantity_minus_discount_plus_tax(order):
    item = order_item_add(
        order=order,
        product_name="Anvil",
        unit_price=Decimal("19.99"),
        quantity=3,
        discount=Decimal("5.00"),
        tax=Decimal("4.20"),
    )

    item.refresh_from_db()
    assert item.total_price == Decimal("59.17")
    assert str(item.total_price) == "59.17"


def test_defaults_are_no_discount_and_no_tax(order):
    item = order_item_add(order=order, product_name="Rope", unit_price=Decimal("2.50"))

    item.refresh_from_db()
    assert (item.quantity, item.discount, item.tax, item.total_price) == (
        1,
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("2.50"),
    )


def test_the_order_total_is_the_sum_of_its_items(order):
    order_item_add(
        order=order,
        product_name="Anvil",
        unit_price=Decimal("19.99"),
        quantity=3,
        discount=Decimal("5.00"),
        tax=Decimal("4.20"),
    )
    order.refresh_from_db()
    assert order.total_amount == Decimal("59.17")

    order_item_add(
        order=order,
        product_name="Rocket skates",
        unit_price=Decimal("0.10"),
        quantity=3,
        tax=Decimal("0.01"),
    )

    order.refresh_from_db()
    assert order.total_amount == Decimal("59.48")
    assert order.total_amount == sum(order.items.values_list("total_price", flat=True))


def test_the_total_is_exact_to_the_cent(order):
    # 0.10 × 3 is 0.30000000000000004 in binary floating point; in Decimal it is 0.30.
    item = order_item_add(
        order=order, product_name="Bird seed", unit_price=Decimal("0.10"), quantity=3
    )

    item.refresh_from_db()
    assert item.total_price == Decimal("0.30")


@pytest.mark.parametrize(
    ("unit_price", "quantity", "discount", "tax", "expected"),
    [
        ("19.99", 3, "5.00", "4.20", "59.17"),
        ("100.00", 1, "0.00", "0.00", "100.00"),
        ("0.01", 7, "0.00", "0.00", "0.07"),
        ("10.00", 2, "20.00", "1.50", "1.50"),
        ("9.99", 0, "0.00", "0.00", "0.00"),
    ],
)
def test_order_item_total(unit_price, quantity, discount, tax, expected):
    total = order_item_total(
        unit_price=Decimal(unit_price),
        quantity=quantity,
        discount=Decimal(discount),
        tax=Decimal(tax),
    )

    assert total == Decimal(expected)
    assert total.as_tuple().exponent == -2


def test_an_invalid_item_is_refused_and_the_total_unchanged(order):
    with pytest.raises(ValidationError):
        order_item_add(order=order, product_name="", unit_price=Decimal("1.00"))

    order.refresh_from_db()
    assert order.total_amount == Decimal("0.00")
    assert not OrderItem.objects.exists()


def test_an_order_for_another_companys_customer_is_refused(acme, alice, charlie, globex):
    outsider = factories.CustomerCompanyFactory(company=globex).customer

    with pytest.raises(ValidationError):
        order_create(
            company=acme,
            customer=outsider,
            order_number="ACME-0002",
            title="Not ours",
            shipping_address="x",
            billing_address="x",
            created_by=alice,
        )

    assert not Order.objects.filter(order_number="ACME-0002").exists()
