"""Story schemas about feelings and friends: sorry, new friends, gifts, honesty, bravery, helping."""

from __future__ import annotations

from slmscale.text.schema_base import Ctx, emotion_pair, other_thing, schema


@schema("broken_toy")
def broken_toy(c: Ctx) -> None:
    a, b = c.child("A"), c.child("B")
    o = c.thing("O", ("toy",))
    c.place("P", ("park", "playground", "school", "garden", "backyard"))
    other_thing(c, "X", o)
    emotion_pair(c)
    c.opening(a)
    c.say("{A}'s friend {B} had {O.a}.", "{B} brought {B.his} new {O.full} {P.to}.")
    c.say("{A} asked to play with the {O}.", "{A} wanted to try the {O}.")
    c.say("{B} said yes, and {A} played with it.", "{B} let {A} hold the {O}.")
    c.say("But {A} dropped the {O}, and it broke.", "Oh no! The {O} fell and broke into two pieces.")
    c.say("{B} was {S} and started to cry.", "{B} looked at the broken {O} and felt {S}.")
    c.maybe(0.6, "{A} felt bad.", "{A} did not know what to do.")
    c.say("{A} said, \"I am sorry, {B}.\"", "{A} told {B} that {A.he} was very sorry.")
    c.say("Then {A} and {B} fixed the {O} with some glue.", "{A}'s dad helped them fix the {O}.")
    c.end(("{B} smiled, and they were friends again.", "{B} frowned, and they were never friends again.", "outcome"),
          ("{B} was {G} to have {B.his} {O} back.", "{B} was {S} to have {B.his} {O} back.", "emotion"),
          ("{B} played with the {O} again, and {A} played too.", "{B} played with the {X} again, and {A} played too.",
           "object"))


@schema("new_friend")
def new_friend(c: Ctx) -> None:
    a, b = c.child("A"), c.child("B")
    c.place("P", ("school", "park", "playground", "library", "beach"))
    c.thing("O", ("ball", "kite", "puzzle", "block", "drum", "yoyo", "marble", "train", "truck", "robot"))
    emotion_pair(c)
    c.opening(a)
    c.say("One day, a new child came {P.to}.", "There was a new kid {P.at} named {B}.")
    c.say("{B.his} name was {B}.", "{B} did not know anyone.", "{B} sat alone and looked {S}.")
    c.maybe(0.6, "Nobody played with {B}.", "{B} looked at the other kids playing.")
    c.say("{A} saw {B} sitting alone.", "{A} saw that {B} was {S}.")
    c.say("{A} walked over and said, \"Hi, do you want to play?\"", "{A} said hello to {B}.")
    c.say("{A} and {B} played with {A}'s {O.full}.", "They played with {A}'s {O.full} together.")
    c.maybe(0.6, "They laughed and had lots of fun.", "{B} smiled for the first time that day.")
    c.end(("From that day on, {A} and {B} were best friends.", "From that day on, {A} and {B} never spoke again.",
           "outcome"),
          ("{B} was {G} to have a new friend.", "{B} was {S} to have a new friend.", "emotion"),
          ("{B} said, \"Thank you for playing with me, {A}.\"", "{A} said, \"Thank you for playing with me, {B}.\"",
           "character"))


@schema("gift_for_mom")
def gift_for_mom(c: Ctx) -> None:
    a = c.child("A")
    c.parent("M")
    g = c.thing("O", ("picture", "card", "flower", "cake", "cookie", "letter", "basket"), adj_cls="nice")
    other_thing(c, "X", g)
    emotion_pair(c)
    c.opening(a)
    c.say("{A} wanted to give {M} a surprise.", "It was {M}'s special day, and {A} wanted to make a gift.")
    c.say("{A} decided to make {O.a}.", "{A} had an idea to make {M} {O.a}.")
    c.say("{A.he} worked on it all morning.", "{A.he} worked very hard on the {O}.")
    c.maybe(0.6, "It was not easy.", "{A.he} had to start again two times.")
    c.maybe(0.5, "{A.he} hid it under {A.his} bed so {M} would not see.", "{A} kept it a secret.")
    c.say("When {M} came home, {A} gave {M} the {O}.", "Then {A} gave the {O} to {M}.")
    c.end(("{M} hugged {A} and was very {G}.", "{M} hugged {A} and was very {S}.", "emotion"),
          ("{M} put the {O} where everyone could see it.", "{M} put the {X} where everyone could see it.", "object"),
          ("{M} said, \"Thank you, {A}. I love it!\"", "{A} said, \"Thank you, {M}. I love it!\"", "character"))


@schema("honesty")
def honesty(c: Ctx) -> None:
    a = c.child("A")
    c.parent("M")
    v = c.thing("O", ("cup", "lamp", "plate", "bowl", "jar", "clock", "mirror", "bottle"), adj_cls="colour")
    c.thing("B", ("ball", "kite", "robot", "truck", "train", "block"), adj_cls=None)
    other_thing(c, "X", v)
    emotion_pair(c)
    c.opening(a)
    c.say("{M} had {O.a} that {M.he} loved.", "There was {O.a} on the table in the kitchen.")
    c.say("One day, {A} was playing with a {B} in the house.", "{A} threw {A.his} {B} inside the house.")
    c.say("The {B} hit the {O}, and it broke.", "Crash! The {O} fell and broke.")
    c.say("{A} was scared.", "{A} felt very {S}.")
    c.maybe(0.6, "{A.he} wanted to hide the pieces.", "{A.he} thought about saying the cat did it.")
    c.say("But {A} knew that lying is wrong.", "Then {A} thought about what was right.")
    c.say("{A} went to {M} and told the truth.", "{A} said, \"{M}, I broke the {O}. I am sorry.\"")
    c.end(("{M} was {G} that {A} told the truth.", "{M} was {S} that {A} told the truth.", "emotion"),
          ("{M} hugged {A} and they cleaned up the {O} together.",
           "{M} hugged {A} and they cleaned up the {X} together.", "object"),
          ("{M} said, \"Thank you for being honest, {A}.\"", "{A} said, \"Thank you for being honest, {M}.\"",
           "character"))


@schema("doctor_visit")
def doctor_visit(c: Ctx) -> None:
    a = c.child("A")
    c.parent("M")
    t = c.thing("O", ("teddy", "doll", "puppet", "robot", "yoyo", "drum"), adj_cls="quality")
    c.thing("K", ("lollipop", "candy", "cookie"), adj_cls="colour")
    other_thing(c, "X", t)
    emotion_pair(c)
    c.opening(a)
    c.say("One day, {A} had to go to the doctor.", "{A} was sick, so {M} took {A.him} to the doctor.")
    c.say("{A} did not want to go.", "{A} was scared of the doctor.")
    c.say("{A} took {A.his} {O.full} for comfort.", "{A} held {A.his} {O.full} very tight.")
    c.maybe(0.6, "The waiting room was big and quiet.", "They sat and waited for a long time.")
    c.say("The doctor was a kind woman with a big smile.", "The doctor was kind and gentle.")
    c.say("She looked at {A}'s ears and throat.", "She listened to {A}'s heart.")
    c.maybe(0.6, "It did not hurt at all.", "{A} was brave and sat still.")
    c.say("At the end, the doctor gave {A} {K.a}.", "The doctor said {A} was very brave and gave {A.him} {K.a}.")
    c.end(("{A} was {G} and not scared of the doctor anymore.", "{A} was {S} and more scared of the doctor than ever.",
           "emotion"),
          ("{A} went home and told {A.his} {O} all about it.", "{A} went home and told {A.his} {X} all about it.",
           "object"),
          ("{A} felt better soon.", "{A} never got better.", "outcome"))


@schema("bedtime_fear")
def bedtime_fear(c: Ctx) -> None:
    a = c.child("A")
    c.parent("M")
    c.thing("O", ("lamp", "teddy", "blanket", "pillow", "candle"), adj_cls="size")
    c.word("W", ["a big monster", "a scary shadow", "two shiny eyes", "a dark shape"])
    emotion_pair(c)
    c.opening(a)
    c.say("It was time for bed.", "Night came, and it was time for {A} to sleep.", "The moon was up, and {A} had to go to bed.",
          "After a warm bath, {A} put on {A.his} pajamas.")
    c.say("{A} got into bed, but {A.he} could not sleep.", "{M} turned off the light.")
    c.say("{A} thought there was {W} in the room.", "In the dark, {A} saw {W}.")
    c.say("{A} was afraid and called for {M}.", "{A} hid under the blanket and shouted for {M}.")
    c.say("{M} came and turned on the light.", "{M} came into the room with a light.")
    c.say("It was just a coat on a chair.", "It was only the shadow of a tree.", "It was only {A.his} teddy on the shelf.",
          "It was just a pile of clothes on the floor.", "It was only the curtain moving in the wind.")
    c.maybe(0.6, "{M} gave {A} {O.a}.", "{M} sat on the bed and sang a soft song.")
    c.maybe(0.5, "{A} laughed.", "{A} felt silly.")
    c.end(("{A} was {G} and fell asleep with a smile.", "{A} was {S} and did not sleep all night.", "emotion"),
          ("{A} was not afraid of the dark anymore.", "{A} was more afraid of the dark than ever.", "outcome"),
          ("{M} kissed {A} good night.", "{A} kissed {M} good night and left the room.", "character"))


@schema("learning_skill")
def learning_skill(c: Ctx) -> None:
    a = c.child("A")
    h = c.parent("H")
    s = c.thing("O", ("bike", "scooter", "sled", "boat", "guitar", "drum", "flute", "trumpet"), adj_cls="colour")
    other_thing(c, "X", s)
    emotion_pair(c)
    verb = "ride" if s.noun.word in ("bike", "scooter", "sled", "boat") else "play"
    c.vars["V"] = verb
    c.opening(a)
    c.say("{A} got {O.a}.", "{H} gave {A} {O.a}.")
    c.say("But {A} did not know how to {V} it.", "{A} wanted to {V} the {O}, but it was hard.")
    c.say("The first time, it did not go well.", "At first, {A} made many mistakes.",
          "It was much harder than {A} thought.", "{A} tried, but it did not work.")
    c.maybe(0.6, "{A} felt {S} and wanted to stop.", "{A} said, \"I can not do it.\"")
    c.say("{H} said, \"Try again. Practice makes it easy.\"", "{H} helped {A} every day.")
    c.say("{A} tried every day.", "{A} did not give up and practiced again and again.")
    c.maybe(0.6, "Each day, {A.he} got a little better.", "Slowly, it got easier.")
    c.say("One day, {A} could {V} the {O} all by {A.himself}.", "At last, {A} could {V} the {O} very well.")
    c.end(("{A} was so {G} and showed everyone.", "{A} was so {S} and showed everyone.", "emotion"),
          ("{A} loved {A.his} {O} more than ever.", "{A} loved {A.his} {X} more than ever.", "object"),
          ("{A} thanked {H} for helping {A.him}.", "{H} thanked {A} for helping {H.him}.", "character"))


@schema("picnic")
def picnic(c: Ctx) -> None:
    a = c.child("A")
    c.parent("M")
    c.place("P", ("park", "beach", "lake", "meadow", "hill", "garden"))
    f = c.thing("F", ("food",), adj_cls=None)
    c.animal("D", ("ant", "duck", "bird", "squirrel", "dog", "goose", "bee"))
    other_thing(c, "X", f)
    emotion_pair(c)
    c.opening(a)
    c.say("{A} and {M} went for a picnic {P.at}.", "It was a sunny day, so {A} and {M} had a picnic {P.at}.")
    c.say("They brought {F.a} and some juice.", "{M} packed {F.a} in a big basket.")
    c.say("They put a blanket on the grass.", "They sat on a soft blanket under a tree.",
          "{M} found a nice spot in the shade.", "They sat down near some pretty flowers.")
    c.maybe(0.6, "The sun was warm, and the birds sang.", "It was a beautiful day.")
    c.say("Then {D.intro} came close.", "Suddenly, {D.intro} came to their blanket.")
    c.say("{D} looked at the {F}.", "{D} wanted some of the {F}.")
    c.say("{A} gave a small piece of the {F} to {D}.", "{A} shared a bit of {A.his} {F} with {D}.")
    c.end(("{D} ate it, and {A} was {G}.", "{D} ate it, and {A} was {S}.", "emotion"),
          ("{A} and {M} ate the rest of the {F} and went home.", "{A} and {M} ate the rest of the {X} and went home.",
           "object"),
          ("It was the best picnic ever.", "It was the worst picnic ever.", "outcome"))


@schema("helping_friend")
def helping_friend(c: Ctx) -> None:
    a, b = c.child("A"), c.child("B")
    h = c.thing("O", ("box", "basket", "bucket", "bag", "wagon"), adj_cls="size")
    c.thing("F", ("apple", "marble", "book", "block", "stone", "shell", "pumpkin"), adj_cls=None)
    c.place("P", ("school", "farm", "barn", "garden"))
    other_thing(c, "X", h)
    emotion_pair(c)
    c.opening(a)
    c.say("One day, {A} saw {A.his} friend {B} with {O.a}.", "{B} had to carry {O.a} {P.to}.")
    c.say("The {O} was full of {F.pl}.", "There were many {F.pl} in the {O}.")
    c.say("It was too heavy for {B}.", "{B} tried to lift it, but it was too heavy.")
    c.maybe(0.6, "{B} sat down and sighed.", "{B} looked tired and {S}.")
    c.say("{A} said, \"I can help you.\"", "{A} ran over to help.")
    c.say("{A} and {B} carried the {O} together.", "They each held one side of the {O}.")
    c.maybe(0.6, "It was much easier with two.", "Step by step, they walked {P.to}.")
    c.end(("{B} said thank you, and {A} felt {G}.", "{B} said thank you, and {A} felt {S}.", "emotion"),
          ("{B} thanked {A} for helping.", "{A} thanked {B} for helping.", "character"),
          ("They got the {O} {P.to} in no time.", "They dropped the {O} and never got {P.to}.", "outcome"))


@schema("talent_show")
def talent_show(c: Ctx) -> None:
    a = c.child("A")
    c.parent("M")
    c.word("S2", ["sing a song", "dance", "play the drum", "tell a funny story", "play the flute"])
    emotion_pair(c)
    c.opening(a)
    c.say("There was a big show at school.", "{A}'s school had a talent show.")
    c.say("{A} wanted to {S2} in the show.", "{A} decided to {S2}.")
    c.say("{A} practiced every day with {M}.", "Every night, {A} practiced in {A.his} room.")
    c.say("On the day of the show, {A} was nervous.", "When {A} saw all the people, {A.he} felt scared.")
    c.maybe(0.6, "{A.his} knees shook.", "{A.he} wanted to run away.")
    c.say("{M} waved and smiled at {A}.", "Then {A.he} saw {M} smiling in the front row.")
    c.say("{A} took a deep breath and began.", "{A} stood tall and began to {S2}.")
    c.maybe(0.6, "{A.he} did it just like {A.he} practiced.", "{A.he} did not make a single mistake.")
    c.end(("Everyone clapped, and {A} was very {G}.", "Everyone clapped, and {A} was very {S}.", "emotion"),
          ("Everyone clapped and cheered for {A}.", "Everyone left before {A} began.", "outcome"),
          ("{M} said, \"I am so proud of you, {A}!\"", "{A} said, \"I am so proud of you, {M}!\"", "character"))
