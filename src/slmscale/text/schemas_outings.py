"""Outing story schemas: the zoo, the beach, a lost pet, the first day at school, a farm visit."""

from __future__ import annotations

from slmscale.text.schema_base import Ctx, emotion_pair, other_thing, schema


@schema("zoo_visit")
def zoo_visit(c: Ctx) -> None:
    a = c.child("A")
    c.parent("M")
    c.animal("Z", ("lion", "elephant", "giraffe", "monkey", "tiger", "zebra", "penguin", "bear", "hippo", "camel"))
    f = c.thing("F", ("banana", "apple", "carrot", "nut", "melon", "pear"), adj_cls=None)
    other_thing(c, "X", f)
    emotion_pair(c)
    c.opening(a)
    c.say("One sunny day, {M} took {A} to the zoo.", "{A} and {M} went to the zoo.",
          "{A} had never been to the zoo before.")
    c.maybe(0.6, "They saw birds, snakes and bears.", "There were so many animals to see.")
    c.say("{A} most wanted to see {Z.intro}.", "{A}'s favorite animal was {Z.intro}.")
    c.say("But {Z} was hiding, and {A} could not see it.", "At first, {Z} was fast asleep behind a rock.")
    c.maybe(0.6, "{A} waited and waited.", "{A} felt {S} and almost went home.")
    c.say("Then the zookeeper came with {F.a}.", "A kind zookeeper brought {F.a} for {Z}.")
    c.say("{Z} came out to eat the {F}.", "{Z} woke up and walked over to get the {F}.")
    c.end(("{A} waved at {Z} and was very {G}.", "{A} waved at {Z} and was very {S}.", "emotion"),
          ("{A} watched {Z} eat the whole {F}.", "{A} watched {Z} eat the whole {X}.", "object"),
          ("{A} said it was the best day at the zoo.", "{A} said it was the worst day at the zoo.", "outcome"))


@schema("beach_day")
def beach_day(c: Ctx) -> None:
    a, b = c.child("A"), c.child("B")
    c.thing("O", ("bucket", "shovel"), adj_cls="colour")
    c.thing("S2", ("shell", "pebble", "feather", "stick"), adj_cls="quality")
    emotion_pair(c)
    c.opening(a)
    c.say("One hot day, {A} went to the beach with {A.his} friend {B}.", "{A} and {B} spent the day at the beach.")
    c.say("{A} brought {A.his} {O.full}.", "{A} had {O.a} for the sand.")
    c.say("They wanted to build a big sand castle.", "{A} and {B} decided to make a castle in the sand.")
    c.say("They dug and dug in the wet sand.", "{A} used the {O} to make tall towers.")
    c.maybe(0.6, "{B} put {S2.a} on the top.", "{B} found {S2.a} to make a flag.")
    c.say("Then a big wave came.", "Suddenly, the water came up the beach.")
    c.say("The wave washed the castle away.", "The water knocked down the castle.")
    c.maybe(0.6, "For a moment, {A} was {S}.", "{B} looked at the flat sand.")
    c.say("Then {A} laughed and said, \"Let us build it again!\"", "Then {B} said, \"We can make a new one.\"")
    c.end(("They built a new castle, and they were both {G}.", "They built a new castle, and they were both {S}.",
           "emotion"),
          ("The new castle was even bigger than the first one.", "They never built a castle again.", "outcome"))


@schema("lost_pet")
def lost_pet(c: Ctx) -> None:
    a = c.child("A")
    c.pet("D", ("dog", "cat", "puppy", "kitten", "rabbit", "bunny"))
    c.parent("M")
    c.place("P", ("park", "garden", "backyard", "yard", "street", "field"))
    c.place("Q", ("barn", "bakery", "library", "shop", "playground", "pond"))
    c.thing("O", ("ball", "bell", "teddy", "bowl", "ribbon"), adj_cls="colour")
    emotion_pair(c)
    c.opening(a)
    c.say("{A} had a pet named {D}.", "{A}'s best friend was a pet named {D}.")
    c.maybe(0.6, "{D} loved to play with {O.a}.", "{A} and {D} played {P.at} every day.")
    c.say("One day, the gate was open, and {D} ran away.", "One morning, {D} was not in {D.his} bed.")
    c.say("{A} was very {S}.", "{A} cried and called, \"{D}! {D}!\"")
    c.say("{A} and {M} looked {P.at}.", "{A} and {M} walked up and down the street.")
    c.maybe(0.6, "They asked the neighbors for help.", "They put up pictures of {D}.")
    c.say("Then they heard a little sound near the {Q}.", "At last, a neighbor saw {D} {Q.at}.")
    c.say("{D} was there, waiting with {O.a}.", "There was {D}, safe and sound.")
    c.end(("{A} hugged {D} and was so {G}.", "{A} hugged {D} and was so {S}.", "emotion"),
          ("{A} took {D} home and closed the gate.", "{A} went home without {D}.", "outcome"),
          ("{D} licked {A}'s face and wagged {D.his} tail.", "{A} licked {D}'s face and wagged {A.his} tail.",
           "character"))


@schema("first_day_school")
def first_day_school(c: Ctx) -> None:
    a, b = c.child("A"), c.child("B")
    c.parent("M")
    bag = c.thing("O", ("bag", "pencil", "crayon", "book", "cap", "jacket"), adj_cls="colour")
    other_thing(c, "X", bag)
    emotion_pair(c)
    c.opening(a)
    c.say("Today was {A}'s first day at school.", "It was the first day of school for {A}.")
    c.say("{A} put on {A.his} new shoes and took {A.his} {O.full}.", "{M} gave {A} {O.a} for school.")
    c.say("{A} was nervous.", "{A} held {M}'s hand tight at the door.")
    c.maybe(0.6, "{A} did not know anyone.", "The school was big and loud.")
    c.say("The teacher smiled and showed {A} where to sit.", "The teacher said hello to {A}.")
    c.say("{A} sat next to a child named {B}.", "A child named {B} sat next to {A}.")
    c.say("{B} liked {A}'s {O.full}.", "{B} said, \"I like your {O}!\"")
    c.maybe(0.6, "They drew pictures and sang songs.", "They played together at lunch.")
    c.end(("When {M} came, {A} was {G} and wanted to go back tomorrow.",
           "When {M} came, {A} was {S} and never wanted to go back.", "emotion"),
          ("{A} told {M} all about {A.his} new friend {B}.", "{A} told {M} that nobody talked to {A.him}.",
           "outcome"),
          ("{A} showed {B} how to draw with the {O}.", "{A} showed {B} how to draw with the {X}.", "object"))
